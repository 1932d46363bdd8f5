"""Data scenes fed by measured results (fill their params with templates):
an animated bar chart, a counter that rolls to a value, a before/after size
comparison, a table, a curve that draws itself. Each shows the result's provenance line (filled in automatically)."""
from manim import (DOWN, LEFT, RIGHT, UP, Create, FadeIn, GrowFromEdge, Line, Rectangle, Square, Transform,
                   ValueTracker, VGroup, VMobject, always_redraw, linear)
from pydantic import Field, model_validator

from bilicast.scenekit import SUBTITLE_TOP, BilicastScene, SceneParams


class _DataScene(BilicastScene):
    def show_provenance(self):
        if self.params.provenance:
            self.add(self.note(self.params.provenance))

    def show_title(self, title: str) -> float:
        # below the provenance line, which sits in the top right corner
        return super().show_title(title, size=50, y=2.95, below=2.3, without=3.2)


class BarChart(_DataScene):
    """Bars grow to measured values. Beats: one per bar."""

    @classmethod
    def beat_count(cls, params) -> int:
        return len(params.values)

    class Params(SceneParams):
        title: str = Field("", max_length=40)
        labels: list[str] = Field(min_length=1, max_length=8)
        values: list[float] = Field(min_length=1, max_length=8)
        texts: list[str] = Field(default_factory=list, description="value labels, e.g. from the mb filter")
        provenance: str = ""

        @model_validator(mode="after")
        def _same_lengths(self):
            if len(self.values) != len(self.labels) or (self.texts and len(self.texts) != len(self.values)):
                raise ValueError("labels, values (and texts, if given) need the same number of items")
            if min(self.values) < 0:
                raise ValueError("values must not be negative")
            return self

    def build(self):
        p = self.params
        self.show_provenance()
        top = self.show_title(p.title) - 0.6
        bottom = SUBTITLE_TOP + 0.9
        n = len(p.values)
        slot = min(2.6, 12.0 / n)
        peak = max(p.values) or 1.0
        colours = [self.style["accent"], self.style["highlight"], "#f6c453", "#6bd490", "#b084f5", "#f08a5d"]
        for i, (label, value) in enumerate(zip(p.labels, p.values)):
            x = (i - (n - 1) / 2) * slot
            height = max(0.02, (top - bottom) * value / peak)
            bar = Rectangle(width=slot * 0.6, height=height, fill_color=colours[i % len(colours)], fill_opacity=1,
                            stroke_width=0).move_to([x, bottom + height / 2, 0])
            name = self.label(label, size=28, max_width=slot * 0.95, max_lines=2).next_to([x, bottom, 0], DOWN, buff=0.2)
            text = p.texts[i] if p.texts else f"{value:.3g}"
            number = self.text(text, size=30, bold=True, max_width=slot).next_to(bar, UP, buff=0.15)
            self.play_beat(i + 1, GrowFromEdge(bar, DOWN), FadeIn(name), FadeIn(number, shift=UP * 0.1))


class Counter(_DataScene):
    """A number rolls up to a measured value, then shows its exact formatted text."""

    class Params(SceneParams):
        label: str = Field(max_length=30)
        value: float
        text: str = Field(min_length=1, max_length=20, description="the final text, e.g. '{{ q.fp32.fps_1t | fps }}'")
        caption: str = Field("", max_length=40)
        provenance: str = ""

    def build(self):
        p = self.params
        self.show_provenance()
        label = self.text(p.label, size=44).move_to(UP * 1.8)
        digits = max(0, min(2, 3 - len(str(int(abs(p.value))))))
        tracker = ValueTracker(0.0)
        colour = self.style["accent"]
        # Text (Pango), not DecimalNumber: no LaTeX needed, and the same CJK-capable font.
        number = always_redraw(lambda: self.text(f"{tracker.get_value():,.{digits}f}", size=110, bold=True,
                                                 color=colour).move_to(UP * 0.1))
        self.play(FadeIn(label), FadeIn(number), run_time=0.4)
        self.play(tracker.animate.set_value(p.value), run_time=1.6, rate_func=linear)
        final = self.text(p.text, size=110, bold=True, color=colour).move_to(UP * 0.1)
        number.clear_updaters()
        self.play(Transform(number, final), run_time=0.3)
        if p.caption:
            self.play(FadeIn(self.text(p.caption, size=34).next_to(final, DOWN, buff=0.5)), run_time=0.4)


class BeforeAfter(_DataScene):
    """Two squares whose areas compare two measured sizes. Beats: 1 before, 2 after."""

    @classmethod
    def beat_count(cls, params) -> int:
        return 2

    class Params(SceneParams):
        title: str = Field("", max_length=40)
        before_label: str = Field(max_length=20)
        after_label: str = Field(max_length=20)
        before: float = Field(gt=0)
        after: float = Field(gt=0)
        before_text: str = Field(max_length=20)
        after_text: str = Field(max_length=20)
        caption: str = Field("", max_length=40)
        provenance: str = ""

    def build(self):
        p = self.params
        self.show_provenance()
        top = self.show_title(p.title)
        big = min(3.4, top - SUBTITLE_TOP - 1.6)
        scale = (min(p.before, p.after) / max(p.before, p.after)) ** 0.5
        sizes = (big, big * scale) if p.before >= p.after else (big * scale, big)
        base_y = SUBTITLE_TOP + 1.2
        groups = []
        for x, side, label, text, colour in [(-3.2, sizes[0], p.before_label, p.before_text, self.style["highlight"]),
                                             (3.2, sizes[1], p.after_label, p.after_text, self.style["accent"])]:
            square = Square(side_length=side, fill_color=colour, fill_opacity=0.8, stroke_width=0)
            square.move_to([x, base_y + side / 2, 0])
            name = self.text(label, size=32).next_to([x, base_y, 0], DOWN, buff=0.2)
            value = self.text(text, size=40, bold=True).next_to(square, UP, buff=0.2)
            groups.append(VGroup(square, name, value))
        for k, g in enumerate(groups, 1):
            self.play_beat(k, GrowFromEdge(g[0], DOWN), FadeIn(g[1]), FadeIn(g[2]))
        if p.caption:
            self.play(FadeIn(self.text(p.caption, size=36, color=self.style["highlight"]).move_to(UP * (top - 0.2))),
                      run_time=0.4)


class Table(_DataScene):
    """A comparison table (e.g. formats × size / accuracy / latency): the
    header first, then one row per beat. Cells are texts (fill them from
    results with filters); the widest column decides the layout, long cells
    wrap between words. Beats: one per row."""

    class Params(SceneParams):
        title: str = Field("", max_length=40)
        columns: list[str] = Field(min_length=2, max_length=6)
        rows: list[list[str]] = Field(min_length=1, max_length=8)
        highlight: int = Field(0, ge=0, description="row to highlight when it appears (1-based; 0: none)")
        provenance: str = ""

        @model_validator(mode="after")
        def _rectangular(self):
            for i, row in enumerate(self.rows, 1):
                if len(row) != len(self.columns):
                    raise ValueError(f"row {i} has {len(row)} cells; the table has {len(self.columns)} columns")
            if self.highlight > len(self.rows):
                raise ValueError(f"highlight {self.highlight}: the table has {len(self.rows)} rows")
            return self

    @classmethod
    def beat_count(cls, params) -> int:
        return len(params.rows)

    def build(self):
        p = self.params
        self.show_provenance()
        top = self.show_title(p.title) - 0.3
        bottom = SUBTITLE_TOP + 0.25
        n_cols = len(p.columns)
        col_w = min(3.2, 12.4 / n_cols)
        row_h = min(0.9, (top - bottom) / (len(p.rows) + 1))
        x0 = -col_w * n_cols / 2
        accent = self.style["accent"]

        def cell(text, r, c, bold=False, color=None):
            label = self.label(text, size=30 if r else 28, max_width=col_w - 0.25, max_lines=2 if row_h >= 0.85 else 1,
                               bold=bold, color=color)
            if label.height > row_h - 0.1:
                label.scale_to_fit_height(row_h - 0.1)
            return label.move_to([x0 + col_w * (c + 0.5), top - row_h * (r + 0.5), 0])

        header = VGroup(Rectangle(width=col_w * n_cols, height=row_h, fill_color=accent, fill_opacity=0.35,
                                  stroke_width=0).move_to([0, top - row_h / 2, 0]),
                        *[cell(name, 0, c, bold=True) for c, name in enumerate(p.columns)])
        self.play(FadeIn(header), run_time=0.4)
        for r, row in enumerate(p.rows, 1):
            band = Rectangle(width=col_w * n_cols, height=row_h, stroke_width=0,
                             fill_color=self.style["highlight"] if r == p.highlight else self.style["foreground"],
                             fill_opacity=0.22 if r == p.highlight else (0.06 if r % 2 else 0.0))
            band.move_to([0, top - row_h * (r + 0.5), 0])
            cells = [cell(text, r, c, bold=c == 0) for c, text in enumerate(row)]
            self.play_beat(r, FadeIn(band), *[FadeIn(t, shift=LEFT * 0.2) for t in cells])


class Curve(_DataScene):
    """A measured curve that draws itself point by point (a training loss per
    epoch), with an optional second series; axes without LaTeX. Beats: 1 the
    axes, 2 the curve draws itself, 3 the second series (when given)."""

    beat_seconds = 1.6

    class Params(SceneParams):
        title: str = Field("", max_length=40)
        values: list[float] = Field(min_length=2, max_length=500)
        name: str = Field("", max_length=16)
        second: list[float] = Field(default_factory=list, max_length=500)
        second_name: str = Field("", max_length=16)
        x_label: str = Field("epoch", max_length=16)
        y_label: str = Field("", max_length=16)
        provenance: str = ""

        @model_validator(mode="after")
        def _same_length(self):
            if self.second and len(self.second) != len(self.values):
                raise ValueError("`second` needs as many points as `values`")
            return self

    @classmethod
    def beat_count(cls, params) -> int:
        return 3 if params.second else 2

    def build(self):
        p = self.params
        self.show_provenance()
        top = self.show_title(p.title) - 0.2
        left, right, bottom = -4.6, 5.4, SUBTITLE_TOP + 1.0
        lo = min(p.values + p.second)
        hi = max(p.values + p.second)
        if hi - lo < 1e-12:
            lo, hi = lo - 1, hi + 1
        fg = self.style["foreground"]

        def point(i, v):
            return [left + i / (len(p.values) - 1) * (right - left), bottom + (v - lo) / (hi - lo) * (top - bottom), 0]

        axes = VGroup(Line([left, bottom, 0], [right, bottom, 0], color=fg, stroke_width=2),
                      Line([left, bottom, 0], [left, top, 0], color=fg, stroke_width=2))
        ticks = VGroup(
            self.text(f"{hi:.3g}", size=26).next_to([left, top, 0], LEFT, buff=0.15),
            self.text(f"{lo:.3g}", size=26).next_to([left, bottom, 0], LEFT, buff=0.15),
            self.text("1", size=26).next_to([left, bottom, 0], DOWN, buff=0.15),
            self.text(str(len(p.values)), size=26).next_to([right, bottom, 0], DOWN, buff=0.15),
            self.text(p.x_label, size=26).next_to([(left + right) / 2, bottom, 0], DOWN, buff=0.15))
        if p.y_label:
            ticks.add(self.text(p.y_label, size=26).next_to(ticks[0], UP, buff=0.15).align_to(ticks[0], RIGHT))
        self.play_beat(1, FadeIn(axes), FadeIn(ticks))
        colours = [self.style["accent"], self.style["highlight"]]
        for beat, (series, name) in enumerate([(p.values, p.name), (p.second, p.second_name)][:2 if p.second else 1], 2):
            curve = VMobject(color=colours[beat - 2], stroke_width=6).set_points_as_corners(
                [point(i, v) for i, v in enumerate(series)])
            anims = [Create(curve, rate_func=linear)]
            if name:   # a legend in the top right corner, one row per series
                tag = self.text(name, size=28, color=colours[beat - 2])
                anims.append(FadeIn(tag.move_to([right - tag.width / 2, top - 0.25 - 0.5 * (beat - 2), 0])))
            self.play_beat(beat, *anims)
