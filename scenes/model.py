"""The model that really ran: its layers, shapes and parameter counts."""
from __future__ import annotations

import math
from typing import Optional

from pydantic import Field, model_validator

from bilicast.scenekit import MUTED, BilicastScene, SceneParams, mn


class Layer(SceneParams):
    name: str = ""
    kind: str = Field(max_length=40)
    detail: str = Field("", max_length=60)
    output: list[Optional[int]]
    params: int = Field(ge=0)


class Model(SceneParams):
    input: list[Optional[int]]
    params: int = Field(ge=0)
    layers: list[Layer] = Field(min_length=1)


MAX_LAYERS = 10


def shape_text(shape) -> str:
    return "×".join("?" if d is None else str(d) for d in shape)


class Architecture(BilicastScene):
    """A Keras model as the demo recorded it (`model: "{{ q.models.digits }}"`;
    demos record models with ctx.model): the input, then one column per layer,
    each a block whose height grows with the size of the layer's output, with
    its kind, settings, output shape and parameter count. Beats: one per layer,
    then (with `flow`) a tensor travelling from the input to the output."""

    class Params(SceneParams):
        title: str = Field("", max_length=40)
        model: Model
        flow: bool = True
        provenance: str = ""

        @model_validator(mode="after")
        def _fits(self):
            if len(self.model.layers) > MAX_LAYERS:
                raise ValueError(f"the model has {len(self.model.layers)} layers; the scene draws at most "
                                 f"{MAX_LAYERS} legibly (show a smaller model, or its parameter count with data.Counter)")
            return self

    def row(self, texts: list[str], size: float, max_width: float, **style) -> list:
        """One line of text per column, all at one size: the largest at which
        every text fits its column (never below the legible least)."""
        from bilicast.legible import min_font_size
        least = min_font_size(self.style["font"])
        while True:
            made = [self.text(t, size=size, max_width=1e9, **style) if t else mn.VGroup() for t in texts]
            if size <= least or all(m.width <= max_width for m in made):
                return made
            size = max(least, size - 2)

    @classmethod
    def beat_count(cls, params) -> int:
        return len(params.model.layers) + (1 if params.flow else 0)

    def build(self):
        p = self.params
        self.show_provenance()
        top = self.show_title(p.title, size=50, y=2.95, below=2.3, without=3.2) - 0.1
        columns = [("输入", "", p.model.input, None)] + [(layer.kind, layer.detail, layer.output, layer.params)
                                                         for layer in p.model.layers]
        # a layer's size: log of its output's element count (they span 10 .. 10^6)
        sizes = [math.log(math.prod(d or 1 for d in c[2]) + 1) for c in columns]
        sizes = [s / max(sizes) for s in sizes]
        drawn = self.side_by_side(columns, sizes, top)
        in_columns = drawn is not None   # else one row per layer, blocks growing to the right
        drawn = drawn or self.one_per_row(columns, sizes, top)
        total = self.caption(f"共 {p.model.params:,} 个参数")
        for i, (block, texts) in enumerate(drawn):
            anims = [mn.GrowFromEdge(block, mn.DOWN if in_columns else mn.LEFT), *map(mn.FadeIn, texts)]
            if i == len(drawn) - 1:
                anims.append(mn.FadeIn(total))
            if i == 0:
                self.play(*anims, run_time=0.4)
            else:
                self.play_beat(i, *anims)
        if p.flow:
            path = mn.VMobject().set_points_as_corners([b.get_center() if in_columns else b.get_left() + mn.RIGHT * 0.2
                                                     for b, _ in drawn])
            tensor = mn.Square(side_length=0.24, fill_color="#ffffff", fill_opacity=1, stroke_width=0)
            tensor.move_to(path.get_start())
            anims = [mn.FadeIn(tensor), mn.MoveAlongPath(tensor, path, rate_func=mn.linear)]
            if not self.frame.narrow:   # in a narrow frame the trail would cross the layer names
                trail = path.copy().set_stroke(color="#ffffff", width=4, opacity=0.8)
                anims.append(mn.Create(trail, rate_func=mn.linear))
            self.play_beat(len(drawn), *anims)

    def block(self, i: int, **size) -> mn.Rectangle:
        colour = self.style["highlight"] if i == 0 else self.style["accent"]
        return mn.Rectangle(stroke_width=0, fill_opacity=0.85, fill_color=colour, **size)

    def side_by_side(self, columns, sizes, top):
        """Columns left to right, blocks growing with the output; None when a
        row of text can't fit its columns at a legible size."""
        slot = (2 * self.frame.right - 0.2) / len(columns)
        kinds = self.row([c[0] for c in columns], 28, slot - 0.12, bold=True)
        details = self.row([c[1] for c in columns], 26, slot - 0.12, color=MUTED)
        shapes = self.row([shape_text(c[2]) for c in columns], 26, slot - 0.12)
        counts = self.row(["" if c[3] is None else f"{c[3]:,}" for c in columns], 26, slot - 0.12,
                          color=self.style["highlight"])
        if any(m.width > slot - 0.12 for m in kinds + details + shapes + counts):
            return None
        kind_y = top - 0.25 + (0.18 if any(c[1] for c in columns) else 0)
        block_top, block_bottom = top - 1.1, self.frame.subtitle_top + 1.25
        drawn = []
        for i, size in enumerate(sizes):
            x = -self.frame.right + 0.1 + slot * (i + 0.5)
            height = 0.35 + (block_top - block_bottom - 0.35) * size
            block = self.block(i, width=min(1.1, slot * 0.62), height=height)
            block.move_to([x, (block_top + block_bottom) / 2, 0])
            texts = [kinds[i].move_to([x, kind_y, 0]), details[i].move_to([x, top - 0.63, 0]),
                     shapes[i].move_to([x, block_bottom - 0.3, 0]), counts[i].move_to([x, block_bottom - 0.68, 0])]
            drawn.append((block, [t for t in texts if t.submobjects]))
        return drawn

    def one_per_row(self, columns, sizes, top):
        """A model too wide for columns: one row per layer, top to bottom
        (kind, settings, a bar growing with the output, shape, parameters)."""
        bottom = self.frame.subtitle_top + 0.45
        pitch = (top - bottom) / len(columns)
        if not self.frame.fits_across(12.6):   # the row below spans x -6.3 .. 6.3
            return self.two_lines_per_row(columns, sizes, top, pitch)
        kinds = self.row([c[0] for c in columns], 28, 3.5, bold=True)
        details = self.row([c[1] for c in columns], 26, 2.0, color=MUTED)
        shapes = self.row([shape_text(c[2]) for c in columns], 26, 1.7)
        counts = self.row(["" if c[3] is None else f"{c[3]:,}" for c in columns], 26, 1.25,
                          color=self.style["highlight"])
        drawn = []
        for i, size in enumerate(sizes):
            y = top - pitch * (i + 0.5)
            bar = self.block(i, width=0.2 + 2.6 * size, height=pitch * 0.7)
            bar.move_to([-0.4 + bar.width / 2, y, 0])
            texts = [kinds[i].move_to([-6.3 + kinds[i].width / 2, y, 0]),
                     details[i].move_to([-2.6 + details[i].width / 2, y, 0]),
                     shapes[i].move_to([2.75 + shapes[i].width / 2, y, 0]),
                     counts[i].move_to([6.3 - counts[i].width / 2, y, 0])]
            drawn.append((bar, [t for t in texts if t.submobjects]))
        return drawn

    def two_lines_per_row(self, columns, sizes, top, pitch):
        """One row per layer in a narrow frame: kind, settings
        and parameters on the upper line; the bar and its shape below."""
        left, right = -self.frame.right + 0.1, self.frame.right - 0.1
        counts = self.row(["" if c[3] is None else f"{c[3]:,}" for c in columns], 26, 1.6,
                          color=self.style["highlight"])
        kinds = self.row([c[0] for c in columns], 28, right - left - 1.8, bold=True)
        details = self.row([c[1] for c in columns], 26, 2.0, color=MUTED)
        shapes = self.row([shape_text(c[2]) for c in columns], 26, 2.0)
        drawn = []
        for i, size in enumerate(sizes):
            y = top - pitch * (i + 0.5)
            upper, lower = y + pitch * 0.2, y - pitch * 0.22
            if self.danmaku_safe and pitch < 0.7:   # less room under the title: the two lines keep apart
                upper, lower = y + pitch * 0.25, y - pitch * 0.26
            bar = self.block(i, width=0.2 + (right - left - 2.4) * size, height=pitch * 0.28)
            bar.move_to([left + bar.width / 2, lower, 0])
            kinds[i].move_to([left + kinds[i].width / 2, upper, 0])
            after_kind = kinds[i].get_right()[0] + 0.25
            if after_kind + details[i].width <= right - 1.7:
                details[i].move_to([after_kind + details[i].width / 2, upper, 0])
            else:   # no room beside the kind: it sits at the end of the bar's line
                details[i].move_to([right - details[i].width / 2, lower, 0])
            texts = [kinds[i], details[i], shapes[i].next_to(bar, mn.RIGHT, buff=0.2).set_y(lower),
                     counts[i].move_to([right - counts[i].width / 2, upper, 0])]
            drawn.append((bar, [t for t in texts if t.submobjects]))
        return drawn
