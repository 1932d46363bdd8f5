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
        per_row = 5 if len(steps) > 5 else len(steps)
        rows = [steps[i:i + per_row] for i in range(0, len(steps), per_row)]
        box_w = min(2.4, 12.8 / per_row - 0.55)
        boxes = []
        for r, row in enumerate(rows):
            y = (top + SUBTITLE_TOP) / 2 + (len(rows) - 1) * 0.9 - r * 1.8
            for c, label in enumerate(row):
                box = RoundedRectangle(corner_radius=0.18, width=box_w, height=1.1, stroke_color=accent,
                                       stroke_width=4, fill_color=accent, fill_opacity=0.45)
                box.move_to([(c - (len(row) - 1) / 2) * (box_w + 0.55), y, 0])
                text = self.text(label, size=30, max_width=box_w - 0.25).move_to(box)
                boxes.append(VGroup(box, text))
        for i, group in enumerate(boxes):
            anims = [FadeIn(group, shift=UP * 0.15)]
            if i:
                start, end = boxes[i - 1][0], group[0]
                same_row = abs(start.get_y() - end.get_y()) < 0.1
                arrow = (Arrow(start.get_right(), end.get_left(), buff=0.08, color=dim) if same_row else
                         Arrow(start.get_bottom(), end.get_top(), buff=0.08, color=dim))
                anims += [GrowArrow(arrow), start.animate.set_fill(opacity=0.12)]
            self.play_beat(i + 1, *anims)
