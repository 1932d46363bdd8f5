"""Title cards."""
from __future__ import annotations

from pydantic import Field

from bilicast.scenekit import BilicastScene, SceneParams, mn


class TitleCard(BilicastScene):
    """A big title, an optional subtitle and a small kicker line above it."""

    class Params(SceneParams):
        title: str = Field(min_length=1, max_length=40)
        subtitle: str = Field("", max_length=60)
        kicker: str = Field("", max_length=30)

    def build(self):
        p = self.params
        title = self.text(p.title, size=72, bold=True).move_to(mn.UP * 0.6)
        bar = mn.Rectangle(width=min(title.width, 10), height=0.08, fill_opacity=1, stroke_width=0,
                        color=self.style["accent"]).next_to(title, mn.DOWN, buff=0.35)
        self.play(mn.Write(title, run_time=1.0), mn.GrowFromEdge(bar, mn.LEFT, run_time=0.6))
        extras = []
        if p.kicker:
            extras.append(self.text(p.kicker, size=34, color=self.style["highlight"]).next_to(title, mn.UP, buff=0.5))
        if p.subtitle:
            extras.append(self.text(p.subtitle, size=40).next_to(bar, mn.DOWN, buff=0.45))
        if extras:
            self.play(*[mn.FadeIn(m, shift=mn.UP * 0.2) for m in extras], run_time=0.5)


class Heading(BilicastScene):
    """A heading at the top left, leaving the frame free for a chart overlay
    (`overlay: {position: right}` or `full`) or for the narration alone."""

    class Params(SceneParams):
        title: str = Field(min_length=1, max_length=30)
        note: str = Field("", max_length=60)

    def build(self):
        title = self.text(self.params.title, size=52, bold=True).to_corner(mn.UP + mn.LEFT, buff=0.85)   # inside title-safe
        bar = mn.Rectangle(width=1.2, height=0.08, fill_opacity=1, stroke_width=0,
                        color=self.style["accent"]).next_to(title, mn.DOWN, buff=0.2, aligned_edge=mn.LEFT)
        self.play(mn.FadeIn(title, shift=mn.RIGHT * 0.2), mn.GrowFromEdge(bar, mn.LEFT), run_time=0.5)
        if self.params.note:
            note = self.text(self.params.note, size=30, color=self.style["highlight"], max_width=5.6)
            self.play(mn.FadeIn(note.next_to(bar, mn.DOWN, buff=0.4, aligned_edge=mn.LEFT)), run_time=0.4)
