"""Pipelines and flows: boxes joined by arrows, lit up step by step."""
from __future__ import annotations

from pydantic import Field

from bilicast.scenekit import BilicastScene, SceneParams, mn


class _Boxes(BilicastScene):
    def box_label(self, text: str, width: float, height: float):
        """A box label: one line if it fits at a readable size, else two or three lines."""
        label = self.label(text, size=32, max_width=width, max_lines=3)
        if label.height > height:
            label.scale_to_fit_height(height)
        return label


class Flow(_Boxes):
    """One box per step, left to right (two rows past five steps). Beats: one
    per step; the step appears with its arrow and is highlighted."""

    class Params(SceneParams):
        steps: list[str] = Field(min_length=2, max_length=10)
        title: str = Field("", max_length=40)

    @classmethod
    def beat_count(cls, params) -> int:
        return len(params.steps)

    def build(self):
        steps = self.params.steps
        accent, dim = self.style["accent"], self.style["foreground"]
        top = self.show_title(self.params.title)
        # Up to five boxes in a row; more snake into a second row (right to left)
        # so every arrow is short: across a row, or straight down at the turn.
        # A narrow frame stacks up to five boxes, more snake two to a row.
        if self.frame.narrow:
            per_row = 1 if len(steps) <= 5 else 2
        else:
            per_row = len(steps) if len(steps) <= 5 else -(-len(steps) // 2)
        rows = [steps[i:i + per_row] for i in range(0, len(steps), per_row)]
        gap = 0.6
        box_w = min(4.0 if self.frame.narrow else 2.5, (2 * self.frame.right + 0.2) / per_row - gap)
        pitch = min(1.9, (top - self.frame.subtitle_top - 0.2) / len(rows))   # row to row
        box_h = min(1.35, pitch - 0.55)
        boxes = []
        for r, row in enumerate(rows):
            y = (top + self.frame.subtitle_top) / 2 + (len(rows) - 1) * pitch / 2 - r * pitch
            for c, label in enumerate(row):
                column = c if r % 2 == 0 else per_row - 1 - c
                box = mn.RoundedRectangle(corner_radius=0.18, width=box_w, height=box_h, stroke_color=accent,
                                       stroke_width=4, fill_color=accent, fill_opacity=0.45)
                box.move_to([(column - (per_row - 1) / 2) * (box_w + gap), y, 0])
                boxes.append(mn.VGroup(box, self.box_label(label, box_w - 0.3, box_h - 0.2).move_to(box)))
        for i, group in enumerate(boxes):
            anims = [mn.FadeIn(group, shift=mn.UP * 0.15)]
            if i:
                start, end = boxes[i - 1][0], group[0]
                if abs(start.get_y() - end.get_y()) > 0.1:
                    arrow = mn.Arrow(start.get_bottom(), end.get_top(), buff=0.08, color=dim)
                elif start.get_x() < end.get_x():
                    arrow = mn.Arrow(start.get_right(), end.get_left(), buff=0.08, color=dim)
                else:
                    arrow = mn.Arrow(start.get_left(), end.get_right(), buff=0.08, color=dim)
                anims += [mn.GrowArrow(arrow), start.animate.set_fill(opacity=0.12)]
            self.play_beat(i + 1, *anims)



class Branch(_Boxes):
    """Two pipelines that share a start and then diverge (training vs serving
    preprocessing): steps at the same position that differ are the mismatch,
    highlighted at the end. Beats: 1 the shared start, 2 the upper branch,
    3 the lower branch, 4 the mismatched steps light up (when there are any)."""

    class Params(SceneParams):
        title: str = Field("", max_length=40)
        shared: list[str] = Field(min_length=1, max_length=3)
        upper_label: str = Field(max_length=12)
        upper: list[str] = Field(min_length=1, max_length=4)
        lower_label: str = Field(max_length=12)
        lower: list[str] = Field(min_length=1, max_length=4)

    @classmethod
    def mismatched(cls, params) -> list[int]:
        """Positions (0-based) where the two branches do different things."""
        p = params
        return [i for i in range(max(len(p.upper), len(p.lower)))
                if i >= len(p.upper) or i >= len(p.lower) or p.upper[i] != p.lower[i]]

    @classmethod
    def beat_count(cls, params) -> int:
        return 4 if cls.mismatched(params) else 3

    def build(self):
        p = self.params
        accent, warn, dim = self.style["accent"], self.style["highlight"], self.style["foreground"]
        top = self.show_title(p.title)
        columns = len(p.shared) + max(len(p.upper), len(p.lower))
        gap = 0.55
        mid = (top + self.frame.subtitle_top) / 2
        if self.frame.narrow:   # top to bottom: the shared steps, then the branches side by side
            box_w = min(3.0, self.frame.right - 0.35)
            pitch = min(1.6, (top - self.frame.subtitle_top - 0.3) / (columns + 0.4))   # + the branch names
            # under layout danmaku_safe (less room under the title) the arrows between the boxes get shorter
            box_h = min(1.1, pitch - (0.3 if self.danmaku_safe else 0.5))
            lanes = {None: 0.0, "upper": -(box_w + gap) / 2, "lower": (box_w + gap) / 2}

            def at(column, lane=None):
                return lanes[lane], top - pitch * (column + 0.5)
        else:
            box_w, box_h = min(2.4, (2 * self.frame.right + 0.2) / columns - gap), 1.1
            rows = {None: mid, "upper": mid + 1.05, "lower": mid - 1.25}
            squeeze = min(1.0, (top - self.frame.subtitle_top - 0.2) / 3.85)   # the upper tag's top to the lower box
            if self.danmaku_safe and squeeze < 1:   # less room under the title: the lanes close up, above the subtitles
                box_h, mid = 1.1 * squeeze, self.frame.subtitle_top + 0.1 + 1.8 * squeeze
                rows = {None: mid, "upper": mid + 1.05 * squeeze, "lower": mid - 1.25 * squeeze}

            def at(column, lane=None):
                return (column - (columns - 1) / 2) * (box_w + gap), rows[lane]

        def box(label, x, y, colour):
            frame = mn.RoundedRectangle(corner_radius=0.16, width=box_w, height=box_h, stroke_color=colour,
                                     stroke_width=4, fill_color=colour, fill_opacity=0.3).move_to([x, y, 0])
            return mn.VGroup(frame, self.box_label(label, box_w - 0.25, box_h - 0.15).move_to(frame))

        def chain(boxes, first_from=None):
            arrows = []
            previous = first_from
            for b in boxes:
                if previous is not None:
                    ends = ((previous[0].get_bottom(), b[0].get_top()) if self.frame.narrow else
                            (previous[0].get_right(), b[0].get_left()))
                    arrows.append(mn.Arrow(*ends, buff=0.06, color=dim))
                previous = b
            return arrows

        shared = [box(s, *at(i), accent) for i, s in enumerate(p.shared)]
        self.play_beat(1, *[mn.FadeIn(b, shift=mn.UP * 0.1) for b in shared], *[mn.GrowArrow(a) for a in chain(shared)])
        branches = {}
        for beat, (name, steps, label) in enumerate((("upper", p.upper, p.upper_label),
                                                     ("lower", p.lower, p.lower_label)), 2):
            boxes = [box(s, *at(len(p.shared) + i, name), accent) for i, s in enumerate(steps)]
            tag = self.text(label, size=30, bold=True, color=accent)
            if self.frame.narrow:   # under its column, clear of the arrows coming in from the shared steps
                tag.next_to(boxes[-1], mn.DOWN, buff=0.15)
            else:
                tag.next_to(boxes[0], mn.UP, buff=0.12).align_to(boxes[0], mn.LEFT)
            branches[name] = boxes
            self.play_beat(beat, mn.FadeIn(tag), *[mn.FadeIn(b, shift=mn.RIGHT * 0.2) for b in boxes],
                           *[mn.GrowArrow(a) for a in chain(boxes, shared[-1])])
        wrong = self.mismatched(p)
        if wrong:
            marks = [b[0].animate.set_stroke(warn, width=7).set_fill(warn, opacity=0.35)
                     for name in ("upper", "lower") for i, b in enumerate(branches[name]) if i in wrong]
            self.play_beat(4, *marks)
