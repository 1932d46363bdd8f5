"""Quantization made visible: float values landing on the int8 grid."""
from __future__ import annotations

from pydantic import Field

from bilicast.scenekit import BilicastScene, SceneParams, mn


class NumberLine(BilicastScene):
    """Two number lines: float32 above, the int8 grid below, joined by the
    real model's quantization q = round(x / scale) + zero_point (fill `scale`,
    `zero_point` and `values` from a result: tflite_quantize records its int8
    input's parameters and some real pixel values). Beats: 1 the two lines and
    the rule, then one per value, which drops onto its integer."""

    class Params(SceneParams):
        scale: float = Field(gt=0)
        zero_point: int = Field(ge=-128, le=127)
        values: list[float] = Field(min_length=1, max_length=6)
        title: str = Field("", max_length=40)
        provenance: str = ""

    @classmethod
    def beat_count(cls, params) -> int:
        return 1 + len(params.values)

    def quantize(self, x: float) -> int:
        p = self.params
        return max(-128, min(127, round(x / p.scale) + p.zero_point))

    def build(self):
        p = self.params
        self.show_provenance()
        top = self.show_title(p.title, size=46, y=2.95, below=2.4)   # below the provenance line
        lo, hi = (-128 - p.zero_point) * p.scale, (127 - p.zero_point) * p.scale
        left, right = -self.frame.right + 1.9, self.frame.right - 0.8
        y_float, y_int = top - 1.7, self.frame.subtitle_top + 1.3
        if self.frame.narrow:   # the rule takes two lines; the lines sit closer, mid-frame
            y_float, y_int = top - 2.4, max(top - 5.6, self.frame.subtitle_top + 1.3)
        fg, accent, pink = self.style["foreground"], self.style["accent"], self.style["highlight"]

        def fx(x):   # float value -> screen x
            return left + (x - lo) / (hi - lo) * (right - left)

        def qx(q):   # int8 value -> screen x
            return left + (q + 128) / 255 * (right - left)

        float_line = mn.Line([left, y_float, 0], [right, y_float, 0], color=fg, stroke_width=3)
        int_line = mn.Line([left, y_int, 0], [right, y_int, 0], color=fg, stroke_width=3)
        ticks = mn.VGroup(*[mn.Line([qx(q), y_int - 0.08, 0], [qx(q), y_int + 0.08, 0], color=fg, stroke_width=1.5)
                         for q in range(-128, 128, 8)])
        names = mn.VGroup(self.text("float32", size=28, color=accent).next_to(float_line, mn.LEFT, buff=0.25),
                       self.text("int8", size=28, color=pink).next_to(int_line, mn.LEFT, buff=0.25))
        # the rule sits above both lines, clear of the arrows between them
        formula, domain = f"q = round(x / {p.scale:.4g}) + ({p.zero_point})", f"x ∈ [{lo:.3g}, {hi:.3g}]"
        if self.frame.narrow:
            rule = mn.VGroup(self.text(formula, size=30), self.text(domain, size=30)).arrange(mn.DOWN, buff=0.15)
            rule.next_to([0, top - 0.1, 0], mn.DOWN, buff=0)
        else:
            rule = self.text(f"{formula}    {domain}", size=30).move_to([0, top - 0.3, 0])
        self.play_beat(1, mn.FadeIn(float_line), mn.FadeIn(int_line), mn.FadeIn(ticks), mn.FadeIn(names), mn.FadeIn(rule))
        for k, x in enumerate(p.values, 2):
            q = self.quantize(x)
            top_dot = mn.Dot([fx(x), y_float, 0], color=accent, radius=0.09)
            low_dot = mn.Dot([qx(q), y_int, 0], color=pink, radius=0.09)
            above = self.text(f"{x:.3g}", size=26, color=accent).next_to(top_dot, mn.UP, buff=0.15 + 0.42 * (k % 2))
            below = self.text(str(q), size=26, color=pink).next_to(low_dot, mn.DOWN, buff=0.25 + 0.4 * (k % 2))
            arrow = mn.Arrow(top_dot.get_center(), low_dot.get_center(), buff=0.12, color=fg, stroke_width=2,
                          max_tip_length_to_length_ratio=0.08)
            self.play_beat(k, mn.FadeIn(top_dot), mn.FadeIn(above), mn.GrowArrow(arrow), mn.FadeIn(low_dot), mn.FadeIn(below))
