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
        title = self.label(p.title, size=72, bold=True, max_width=2 * self.frame.right - 0.3, max_lines=3)
        title.move_to(mn.UP * (0.6 + (self.frame.subtitle_top + 2.6)))   # as far above the subtitles in every frame
        bar = mn.Rectangle(width=min(title.width, 10), height=0.08, fill_opacity=1, stroke_width=0,
                        color=self.style["accent"]).next_to(title, mn.DOWN, buff=0.35)
        extras = []
        if p.kicker:
            extras.append(self.label(p.kicker, size=34, color=self.style["highlight"],
                                     max_width=2 * self.frame.right - 0.3).next_to(title, mn.UP, buff=0.5))
        if p.subtitle:
            extras.append(self.label(p.subtitle, size=40, max_width=2 * self.frame.right - 0.3).next_to(
                bar, mn.DOWN, buff=0.45))
        card = mn.VGroup(title, bar, *extras)
        if self.danmaku_safe:   # the title below the danmaku band (the kicker above it may reach into it)
            card.shift(mn.DOWN * max(0.0, title.get_top()[1] - self.key_top))
        low = self.frame.subtitle_top + 0.2 - card.get_bottom()[1]
        if low > 0:   # wrapped lines reach the subtitle band: the card moves up, as far as the frame allows
            card.shift(mn.UP * min(low, self.frame.top - card.get_top()[1], self.key_top - title.get_top()[1]))
        self.play(mn.Write(title, run_time=1.0), mn.GrowFromEdge(bar, mn.LEFT, run_time=0.6))
        if extras:
            self.play(*[mn.FadeIn(m, shift=mn.UP * 0.2) for m in extras], run_time=0.5)


class Heading(BilicastScene):
    """A heading at the top left, leaving the frame free for a chart overlay
    (`overlay: {position: right}` or `full`) or for the narration alone."""
    overlay_room = True

    class Params(SceneParams):
        title: str = Field(min_length=1, max_length=30)
        note: str = Field("", max_length=60)

    def build(self):
        title = self.label(self.params.title, size=52, bold=True, max_width=2 * self.frame.right - 0.3)
        top = min(self.frame.top - 0.45, self.key_top - 0.1)   # below the danmaku band under layout danmaku_safe
        title.move_to([-self.frame.right + 0.14 + title.width / 2, top - title.height / 2, 0])
        bar = mn.Rectangle(width=1.2, height=0.08, fill_opacity=1, stroke_width=0,
                        color=self.style["accent"]).next_to(title, mn.DOWN, buff=0.2, aligned_edge=mn.LEFT)
        self.play(mn.FadeIn(title, shift=mn.RIGHT * 0.2), mn.GrowFromEdge(bar, mn.LEFT), run_time=0.5)
        if self.params.note:
            note = self.text(self.params.note, size=30, color=self.style["highlight"], max_width=5.6)
            self.play(mn.FadeIn(note.next_to(bar, mn.DOWN, buff=0.4, aligned_edge=mn.LEFT)), run_time=0.4)
