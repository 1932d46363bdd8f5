"""Lists: a checklist whose items tick in one by one."""
from __future__ import annotations

from pydantic import Field

from bilicast.scenekit import BilicastScene, SceneParams, mn


class Checklist(BilicastScene):
    """A title and up to seven items. Beats: one per item, which appears with
    its tick mark."""

    class Params(SceneParams):
        title: str = Field("", max_length=40)
        items: list[str] = Field(min_length=1, max_length=7)
        mark: str = Field("✔", max_length=2)

    @classmethod
    def beat_count(cls, params) -> int:
        return len(params.items)

    def build(self):
        p = self.params
        top = self.show_title(p.title, y=3.1, below=2.2)
        rows = []
        for item in p.items:
            mark = self.text(p.mark, size=40, color=self.style["highlight"])
            width = min(10.5, 2 * self.frame.right - mark.width - 0.5)
            # one line (shrinking to fit) across a wide frame; up to two lines across a narrow one
            label = self.label(item, size=38, max_width=width, max_lines=2 if self.frame.narrow else 1,
                               align_left=True)
            rows.append(mn.VGroup(mark, label).arrange(mn.RIGHT, buff=0.35, aligned_edge=mn.UP))
        column = mn.VGroup(*rows).arrange(mn.DOWN, aligned_edge=mn.LEFT, buff=0.38)
        bottom = self.frame.subtitle_top + 0.1
        if column.height > top - bottom:
            column.scale_to_fit_height(top - bottom)
        column.move_to([0, (top + bottom) / 2, 0])
        for k, row in enumerate(rows, 1):
            self.play_beat(k, mn.FadeIn(row[0], scale=1.6), mn.FadeIn(row[1], shift=mn.RIGHT * 0.3))
