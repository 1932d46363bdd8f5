"""Pipelines and flows: boxes joined by arrows, lit up step by step."""
from manim import DOWN, UP, Arrow, FadeIn, GrowArrow, RoundedRectangle, VGroup
from pydantic import Field

from bilicast.scenekit import SUBTITLE_TOP, BilicastScene, SceneParams


class Flow(BilicastScene):
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
        top = 3.0
        if self.params.title:
            title = self.text(self.params.title, size=52, bold=True).move_to(UP * 3.2)
            self.play(FadeIn(title, shift=DOWN * 0.2), run_time=0.5)
            top = 2.4
        # Up to five boxes in a row; more snake into a second row (right to left)
        # so every arrow is short: across a row, or straight down at the turn.
        per_row = len(steps) if len(steps) <= 5 else -(-len(steps) // 2)
        rows = [steps[i:i + per_row] for i in range(0, len(steps), per_row)]
        gap = 0.6
        box_w = min(2.5, 13.0 / per_row - gap)
        box_h = 1.35
        boxes = []
        for r, row in enumerate(rows):
            y = (top + SUBTITLE_TOP) / 2 + (len(rows) - 1) * 0.95 - r * 1.9
            for c, label in enumerate(row):
                column = c if r % 2 == 0 else per_row - 1 - c
                box = RoundedRectangle(corner_radius=0.18, width=box_w, height=box_h, stroke_color=accent,
                                       stroke_width=4, fill_color=accent, fill_opacity=0.45)
                box.move_to([(column - (per_row - 1) / 2) * (box_w + gap), y, 0])
                boxes.append(VGroup(box, self.label(label, box_w - 0.3, box_h - 0.2).move_to(box)))
        for i, group in enumerate(boxes):
            anims = [FadeIn(group, shift=UP * 0.15)]
            if i:
                start, end = boxes[i - 1][0], group[0]
                if abs(start.get_y() - end.get_y()) > 0.1:
                    arrow = Arrow(start.get_bottom(), end.get_top(), buff=0.08, color=dim)
                elif start.get_x() < end.get_x():
                    arrow = Arrow(start.get_right(), end.get_left(), buff=0.08, color=dim)
                else:
                    arrow = Arrow(start.get_left(), end.get_right(), buff=0.08, color=dim)
                anims += [GrowArrow(arrow), start.animate.set_fill(opacity=0.12)]
            self.play_beat(i + 1, *anims)

    def label(self, text: str, width: float, height: float):
        """A box label: one line if it fits at a readable size, else two centred lines."""
        for size in (32, 27):
            one = self.text(text, size=size)
            if one.width <= width:
                return one
        from bilicast.subtitles import width as text_width
        from bilicast.subtitles import wrap
        lines = wrap(text, max(2, -(-int(text_width(text) + 0.5) // 2)))[:2]
        two = VGroup(*[self.text(line, size=30) for line in lines]).arrange(DOWN, buff=0.1)
        if two.width > width or two.height > height:
            two.scale(min(width / two.width, height / two.height))
        return two
