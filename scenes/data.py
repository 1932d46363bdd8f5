"""Data scenes fed by measured results (fill their params with templates):
an animated bar chart (with error bars), a counter that rolls to a value, a
before/after size comparison, a table, a curve that draws itself, a scatter
whose labels never collide, a heatmap (a confusion matrix) that fills in. Each shows the result's provenance line (filled in automatically)."""
from __future__ import annotations

from pydantic import Field, model_validator

from bilicast.scenekit import MUTED, BilicastScene, SceneParams, mn

PALETTE = ("#f6c453", "#6bd490", "#b084f5", "#f08a5d")   # after the style's accent and highlight


class _DataScene(BilicastScene):
    def colours(self) -> list[str]:
        return [self.style["accent"], self.style["highlight"], *PALETTE]

    def axes(self, left: float, right: float, bottom: float, top: float) -> mn.VGroup:
        fg = self.style["foreground"]
        return mn.VGroup(mn.Line([left, bottom, 0], [right, bottom, 0], color=fg, stroke_width=2),
                      mn.Line([left, bottom, 0], [left, top, 0], color=fg, stroke_width=2))

    def show_title(self, title: str) -> float:
        # below the provenance line, which sits in the top right corner
        return super().show_title(title, size=50, y=2.95, below=2.3, without=3.2)


class BarChart(_DataScene):
    """Bars grow to measured values, optionally with error bars (`low`,
    `high`: e.g. a latency's 95 % interval, ci_low / ci_high). Beats: one per bar."""

    @classmethod
    def beat_count(cls, params) -> int:
        return len(params.values)

    class Params(SceneParams):
        title: str = Field("", max_length=40)
        labels: list[str] = Field(min_length=1, max_length=12)
        values: list[float] = Field(min_length=1, max_length=12)
        texts: list[str] = Field(default_factory=list, description="value labels, e.g. from the mb filter")
        low: list[float] = Field(default_factory=list, description="error bar bottoms (e.g. ci_low)")
        high: list[float] = Field(default_factory=list, description="error bar tops (e.g. ci_high)")
        caption: str = Field("", max_length=40)
        provenance: str = ""

        @model_validator(mode="after")
        def _same_lengths(self):
            if len(self.values) != len(self.labels) or (self.texts and len(self.texts) != len(self.values)):
                raise ValueError("labels, values (and texts, if given) need the same number of items")
            if bool(self.low) != bool(self.high) or (self.low and len(self.low) != len(self.values)):
                raise ValueError("error bars need `low` and `high`, one of each per value")
            if any(not lo <= v <= hi for lo, v, hi in zip(self.low, self.values, self.high)):
                raise ValueError("each value must lie between its `low` and `high`")
            if min(self.values) < 0:
                raise ValueError("values must not be negative")
            return self

    def build(self):
        p = self.params
        self.show_provenance()
        top = self.show_title(p.title) - 0.6
        n = len(p.values)
        if self.frame.narrow and n > 4:   # too narrow for columns: one row per bar
            self.build_rows(top)
            return
        slot = min(2.6, (2 * self.frame.right - 0.8) / n)
        names = [self.label(label, size=28, max_width=slot * 0.95, max_lines=2) for label in p.labels]
        bottom = self.frame.subtitle_top + 0.45 + max(name.height for name in names)   # names: between bars and subtitles
        if p.caption:
            self.play(mn.FadeIn(self.caption(p.caption)), run_time=0.3)
            bottom += 0.35
        peak = max(p.high or p.values) or 1.0
        colours = self.colours()
        for i, (name, value) in enumerate(zip(names, p.values)):
            x = (i - (n - 1) / 2) * slot
            height = max(0.02, (top - bottom) * value / peak)
            bar = mn.Rectangle(width=slot * 0.6, height=height, fill_color=colours[i % len(colours)], fill_opacity=1,
                            stroke_width=0).move_to([x, bottom + height / 2, 0])
            name.next_to([x, bottom, 0], mn.DOWN, buff=0.2)
            number = self.value_text(p.texts[i] if p.texts else f"{value:.3g}", slot * 0.95)
            extra = []
            if p.low:   # an I-beam from low to high
                y0, y1 = (bottom + (top - bottom) * v / peak for v in (p.low[i], p.high[i]))
                cap = slot * 0.15
                whisker = mn.VGroup(mn.Line([x, y0, 0], [x, y1, 0]), mn.Line([x - cap, y0, 0], [x + cap, y0, 0]),
                                 mn.Line([x - cap, y1, 0], [x + cap, y1, 0])).set_stroke(self.style["foreground"], 3)
                extra.append(mn.FadeIn(whisker))
                number.move_to([x, max(y1, bottom + height) + 0.15 + number.height / 2, 0])
            else:
                number.next_to(bar, mn.UP, buff=0.15)
            self.play_beat(i + 1, mn.GrowFromEdge(bar, mn.DOWN), mn.FadeIn(name), mn.FadeIn(number, shift=mn.UP * 0.1), *extra)

    def build_rows(self, top: float) -> None:
        """The bars as rows growing to the right, names on the left and
        values at their ends (a narrow frame with many bars)."""
        p = self.params
        bottom = self.frame.subtitle_top + 0.2
        if p.caption:
            caption = self.caption(p.caption)
            self.play(mn.FadeIn(caption), run_time=0.3)
            bottom = caption.get_top()[1] + 0.2
        n = len(p.values)
        pitch = min(1.0, (top - bottom) / n)
        names = [self.label(label, size=28, max_width=2.4, max_lines=2 if pitch >= 0.8 else 1) for label in p.labels]
        numbers = [self.value_text(p.texts[i] if p.texts else f"{v:.3g}", 1e9) for i, v in enumerate(p.values)]
        left = -self.frame.right + max(name.width for name in names) + 0.25
        reach = self.frame.right - max(t.width for t in numbers) - 0.2 - left   # the longest bar's length
        peak = max(p.high or p.values) or 1.0
        colours = self.colours()
        for i, (name, number, value) in enumerate(zip(names, numbers, p.values)):
            y = top - pitch * (i + 0.5)
            length = max(0.02, reach * value / peak)
            bar = mn.Rectangle(width=length, height=pitch * 0.55, fill_color=colours[i % len(colours)], fill_opacity=1,
                               stroke_width=0).move_to([left + length / 2, y, 0])
            name.move_to([left - 0.2 - name.width / 2, y, 0])
            end = left + length
            extra = []
            if p.low:   # an I-beam from low to high, lying down
                x0, x1 = (left + reach * v / peak for v in (p.low[i], p.high[i]))
                cap = pitch * 0.15
                whisker = mn.VGroup(mn.Line([x0, y, 0], [x1, y, 0]), mn.Line([x0, y - cap, 0], [x0, y + cap, 0]),
                                    mn.Line([x1, y - cap, 0], [x1, y + cap, 0])).set_stroke(self.style["foreground"], 3)
                extra.append(mn.FadeIn(whisker))
                end = max(end, x1)
            number.move_to([end + 0.15 + number.width / 2, y, 0])
            self.play_beat(i + 1, mn.GrowFromEdge(bar, mn.LEFT), mn.FadeIn(name), mn.FadeIn(number, shift=mn.RIGHT * 0.1),
                           *extra)

    def value_text(self, text: str, width: float):
        """A bar's value, on one line if it fits, else its number above its
        unit ("0.0384" / "ms") rather than smaller than legible."""
        from bilicast.legible import min_font_size
        number, _, unit = text.rpartition(" ")
        least = min_font_size(self.style["font"])
        # one line at a good size, else number over unit, and only then the least size
        for size, split in ((30, False), (28, False), (30, True), (28, True), (least, False), (least, True)):
            if not split:
                one = self.text(text, size=size, bold=True, max_width=1e9)
                if one.width <= width:
                    return one
            elif number:
                parts = [self.text(part, size=size, bold=True, max_width=1e9) for part in (number, unit)]
                if max(part.width for part in parts) <= width:
                    return mn.VGroup(*parts).arrange(mn.DOWN, buff=0.06)
        return self.label(text, size=28, bold=True, max_width=width, max_lines=3)


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
        label = self.text(p.label, size=44)
        label.move_to(mn.UP * min(1.8, self.key_top - 0.1 - label.height / 2))   # below the danmaku band if asked
        digits = max(0, min(2, 3 - len(str(int(abs(p.value))))))
        tracker = mn.ValueTracker(0.0)
        colour = self.style["accent"]
        # Text (Pango), not DecimalNumber: no LaTeX needed, and the same CJK-capable font.
        number = mn.always_redraw(lambda: self.text(f"{tracker.get_value():,.{digits}f}", size=110, bold=True,
                                                 color=colour).move_to(mn.UP * 0.1))
        self.play(mn.FadeIn(label), mn.FadeIn(number), run_time=0.4)
        self.play(tracker.animate.set_value(p.value), run_time=1.6, rate_func=mn.linear)
        final = self.text(p.text, size=110, bold=True, color=colour).move_to(mn.UP * 0.1)
        number.clear_updaters()
        self.play(mn.Transform(number, final), run_time=0.3)
        if p.caption:
            self.play(mn.FadeIn(self.text(p.caption, size=34).next_to(final, mn.DOWN, buff=0.5)), run_time=0.4)


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
        half = min(3.2, self.frame.right / 2)   # the squares' centres, either side of the middle
        big = min(3.4, top - self.frame.subtitle_top - 1.6, 2 * half - 0.4)
        scale = (min(p.before, p.after) / max(p.before, p.after)) ** 0.5
        sizes = (big, big * scale) if p.before >= p.after else (big * scale, big)
        base_y = self.frame.subtitle_top + 1.2
        groups = []
        for x, side, label, text, colour in [(-half, sizes[0], p.before_label, p.before_text, self.style["highlight"]),
                                             (half, sizes[1], p.after_label, p.after_text, self.style["accent"])]:
            square = mn.Square(side_length=side, fill_color=colour, fill_opacity=0.8, stroke_width=0)
            square.move_to([x, base_y + side / 2, 0])
            name = self.label(label, size=32, max_width=2 * half - 0.3).next_to([x, base_y, 0], mn.DOWN, buff=0.2)
            value = self.label(text, size=40, bold=True, max_width=2 * half - 0.3).next_to(square, mn.UP, buff=0.2)
            groups.append(mn.VGroup(square, name, value))
        for k, g in enumerate(groups, 1):
            self.play_beat(k, mn.GrowFromEdge(g[0], mn.DOWN), mn.FadeIn(g[1]), mn.FadeIn(g[2]))
        if p.caption:
            caption = self.label(p.caption, size=36, color=self.style["highlight"], max_width=2 * self.frame.right - 0.3,
                                 max_lines=2)
            self.play(mn.FadeIn(caption.move_to(mn.UP * (top - 0.2))), run_time=0.4)


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
        bottom = self.frame.subtitle_top + 0.25
        n_cols = len(p.columns)
        col_w = min(3.2, (2 * self.frame.right - 0.4) / n_cols)
        row_h = min(1.3 if self.frame.narrow else 0.9, (top - bottom) / (len(p.rows) + 1))
        x0 = -col_w * n_cols / 2
        accent = self.style["accent"]

        def cell(text, r, c, bold=False, color=None):
            lines = 3 if row_h >= 1.2 else 2 if row_h >= 0.85 else 1
            label = self.label(text, size=30 if r else 28, max_width=col_w - 0.25, max_lines=lines,
                               bold=bold, color=color)
            if label.height > row_h - 0.1:
                label.scale_to_fit_height(row_h - 0.1)
            return label.move_to([x0 + col_w * (c + 0.5), top - row_h * (r + 0.5), 0])

        header = mn.VGroup(mn.Rectangle(width=col_w * n_cols, height=row_h, fill_color=accent, fill_opacity=0.35,
                                  stroke_width=0).move_to([0, top - row_h / 2, 0]),
                        *[cell(name, 0, c, bold=True) for c, name in enumerate(p.columns)])
        self.play(mn.FadeIn(header), run_time=0.4)
        for r, row in enumerate(p.rows, 1):
            band = mn.Rectangle(width=col_w * n_cols, height=row_h, stroke_width=0,
                             fill_color=self.style["highlight"] if r == p.highlight else self.style["foreground"],
                             fill_opacity=0.22 if r == p.highlight else (0.06 if r % 2 else 0.0))
            band.move_to([0, top - row_h * (r + 0.5), 0])
            cells = [cell(text, r, c, bold=c == 0) for c, text in enumerate(row)]
            self.play_beat(r, mn.FadeIn(band), *[mn.FadeIn(t, shift=mn.LEFT * 0.2) for t in cells])


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
        left, right, bottom = -self.frame.right + 1.8, self.frame.right - 1.0, self.frame.subtitle_top + 1.0
        legend_top = top   # the legend's rows start here, in the plot's top right corner
        if self.frame.narrow:   # too narrow to share the plot's top: the legend goes above it
            top -= 0.5 * ((p.name != "") + (p.second_name != "" and bool(p.second))) + 0.2
        lo = min(p.values + p.second)
        hi = max(p.values + p.second)
        if hi - lo < 1e-12:
            lo, hi = lo - 1, hi + 1

        def point(i, v):
            return [left + i / (len(p.values) - 1) * (right - left), bottom + (v - lo) / (hi - lo) * (top - bottom), 0]

        axes = self.axes(left, right, bottom, top)
        ticks = mn.VGroup(
            self.text(f"{hi:.3g}", size=26).next_to([left, top, 0], mn.LEFT, buff=0.15),
            self.text(f"{lo:.3g}", size=26).next_to([left, bottom, 0], mn.LEFT, buff=0.15),
            self.text("1", size=26).next_to([left, bottom, 0], mn.DOWN, buff=0.15),
            self.text(str(len(p.values)), size=26).next_to([right, bottom, 0], mn.DOWN, buff=0.15),
            self.text(p.x_label, size=26).next_to([(left + right) / 2, bottom, 0], mn.DOWN, buff=0.15))
        if p.y_label:
            ticks.add(self.text(p.y_label, size=26).next_to(ticks[0], mn.UP, buff=0.15).align_to(ticks[0], mn.RIGHT))
        self.play_beat(1, mn.FadeIn(axes), mn.FadeIn(ticks))
        colours = self.colours()
        for beat, (series, name) in enumerate([(p.values, p.name), (p.second, p.second_name)][:2 if p.second else 1], 2):
            curve = mn.VMobject(color=colours[beat - 2], stroke_width=6).set_points_as_corners(
                [point(i, v) for i, v in enumerate(series)])
            anims = [mn.Create(curve, rate_func=mn.linear)]
            if name:   # a legend in the top right corner, one row per series
                tag = self.text(name, size=28, color=colours[beat - 2])
                anims.append(mn.FadeIn(tag.move_to([right - tag.width / 2, legend_top - 0.25 - 0.5 * (beat - 2), 0])))
            self.play_beat(beat, *anims)


def _boxes_overlap(a, b, gap: float = 0.06) -> bool:
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap


def _box(m) -> tuple:
    return (m.get_left()[0], m.get_bottom()[1], m.get_right()[0], m.get_top()[1])


class Scatter(_DataScene):
    """Measured points on two axes (size against accuracy, one per format):
    each lands on its beat with its label, placed where it covers no other
    label, point or axis text; points that coincide are drawn as rings around
    each other so none hides. Beats: 1 the axes, then one per point."""

    class Params(SceneParams):
        title: str = Field("", max_length=40)
        labels: list[str] = Field(min_length=1, max_length=8)
        xs: list[float] = Field(min_length=1, max_length=8)
        ys: list[float] = Field(min_length=1, max_length=8)
        x_label: str = Field("", max_length=20)
        y_label: str = Field("", max_length=20)
        x_unit: str = Field("", max_length=6, description="appended to the x tick values, e.g. KB")
        y_unit: str = Field("", max_length=6)
        caption: str = Field("", max_length=40)
        provenance: str = ""

        @model_validator(mode="after")
        def _same_lengths(self):
            if not len(self.labels) == len(self.xs) == len(self.ys):
                raise ValueError("labels, xs and ys need the same number of items")
            return self

    @classmethod
    def beat_count(cls, params) -> int:
        return 1 + len(params.xs)

    def build(self):
        p = self.params
        self.show_provenance()
        top = self.show_title(p.title) - 0.5
        margins = (1.3, 0.5) if self.frame.narrow else (2.0, 1.4)   # a narrow frame keeps less room at the sides
        left, right = -self.frame.right + margins[0], self.frame.right - margins[1]
        bottom = self.frame.subtitle_top + 1.0
        fg = self.style["foreground"]

        def span(values):
            lo, hi = min(values), max(values)
            pad = (hi - lo) * 0.15 or abs(hi) * 0.05 or 1.0
            return lo - pad, hi + pad

        (x0, x1), (y0, y1) = span(p.xs), span(p.ys)

        def at(x, y):
            return [left + (x - x0) / (x1 - x0) * (right - left), bottom + (y - y0) / (y1 - y0) * (top - bottom), 0]

        axes = self.axes(left, right, bottom, top)
        # ticks at the data's extremes, so their texts are values that were measured
        lo, hi = at(min(p.xs), min(p.ys)), at(max(p.xs), max(p.ys))
        texts = mn.VGroup(*[self.text(f"{v:.3g}{p.y_unit}", size=26).next_to([left, y, 0], mn.LEFT, buff=0.15)
                         for v, y in sorted({(min(p.ys), lo[1]), (max(p.ys), hi[1])})],
                       *[self.text(f"{v:.3g}{p.x_unit}", size=26).next_to([x, bottom, 0], mn.DOWN, buff=0.15)
                         for v, x in sorted({(min(p.xs), lo[0]), (max(p.xs), hi[0])})])
        if p.x_label:
            texts.add(self.text(p.x_label, size=28).next_to([right, bottom, 0], mn.UP, buff=0.15).align_to([right, 0, 0],
                                                                                                        mn.RIGHT))
        if p.y_label:
            texts.add(self.text(p.y_label, size=28).next_to([left, top + 0.1, 0], mn.UP, buff=0.1).align_to([left, 0, 0],
                                                                                                     mn.LEFT))
        marks = mn.VGroup(*[mn.Line([left - 0.08, y, 0], [left, y, 0], color=fg) for y in {lo[1], hi[1]}],
                       *[mn.Line([x, bottom - 0.08, 0], [x, bottom, 0], color=fg) for x in {lo[0], hi[0]}])
        extra = [mn.FadeIn(self.caption(p.caption))] if p.caption else []
        self.play_beat(1, mn.FadeIn(axes), mn.FadeIn(mn.VGroup(*texts, *marks)), *extra)

        colours = self.colours()
        points = [at(x, y) for x, y in zip(p.xs, p.ys)]
        taken = [_box(t) for t in texts]
        for i, (label, point) in enumerate(zip(p.labels, points)):
            colour = colours[i % len(colours)]
            under = sum(1 for q in points[:i] if abs(q[0] - point[0]) < 0.15 and abs(q[1] - point[1]) < 0.15)
            mark = (mn.Dot(point, radius=0.13, color=colour) if not under else
                    mn.Circle(radius=0.13 + 0.11 * under, color=colour, stroke_width=5).move_to(point))
            text = self.label(label, size=28, max_width=min(3.2, self.frame.right * 0.6), max_lines=3, color=colour)
            self.place(text, point, points, taken, (left, bottom))
            taken.append(_box(text))
            self.play_beat(2 + i, mn.GrowFromCenter(mark), mn.FadeIn(text))

    def place(self, text, point, points, taken, origin) -> None:
        """Move the label to the first spot around its point (right, left,
        above, below, diagonals, then further out) that stays inside the
        plot and the safe area, clear of the labels, points and axis texts
        placed before."""
        w, h = text.width / 2 + 0.3, text.height / 2 + 0.25
        spots = [(w, 0), (-w, 0), (0, h), (0, -h), (w, h), (-w, h), (w, -h), (-w, -h)]
        safe_x, safe_top = self.frame.right, self.frame.top - 0.4   # below the provenance line
        for reach in (1, 1.7, 2.4, 3.1):
            for dx, dy in spots:
                text.move_to([point[0] + dx * reach, point[1] + dy * reach, 0])
                box = _box(text)
                inside = origin[0] + 0.1 < box[0] and box[2] < safe_x and origin[1] + 0.1 < box[1] and box[3] < safe_top
                clear = not any(box[0] - 0.15 < q[0] < box[2] + 0.15 and box[1] - 0.15 < q[1] < box[3] + 0.15
                                for q in points)
                if inside and clear and not any(_boxes_overlap(box, b) for b in taken):
                    return
        text.move_to([point[0] + spots[0][0], point[1], 0])   # nowhere clear: the legibility check will say so


class Heatmap(_DataScene):
    """A matrix of counts (a confusion matrix: rows the true class, columns
    the predicted one) whose cells fill in row by row, each shaded by its
    count and, where there is room, showing it. Beats: 1 the grid and its
    labels, 2 the cells fill in, 3 (with `highlight`) the largest cell off
    the diagonal is ringed: the mistake made most often."""

    beat_seconds = 1.6

    class Params(SceneParams):
        title: str = Field("", max_length=40)
        matrix: list[list[float]] = Field(min_length=2, max_length=12)
        labels: list[str] = Field(default_factory=list, max_length=12)
        row_title: str = Field("真实", max_length=8)
        column_title: str = Field("预测", max_length=8)
        highlight: bool = True
        caption: str = Field("", max_length=40)
        provenance: str = ""

        @model_validator(mode="after")
        def _square(self):
            n = len(self.matrix)
            if any(len(row) != n for row in self.matrix):
                raise ValueError(f"the matrix must be square: it has {n} rows, so each row needs {n} numbers")
            if self.labels and len(self.labels) != n:
                raise ValueError(f"{n} rows need {n} labels (or none: 0..{n - 1})")
            if min(min(row) for row in self.matrix) < 0:
                raise ValueError("counts must not be negative")
            return self

    @classmethod
    def beat_count(cls, params) -> int:
        return 3 if params.highlight else 2

    def build(self):
        p = self.params
        self.show_provenance()
        top = self.show_title(p.title) - 0.45
        if self.danmaku_safe and not p.title:   # no key text to keep out of the band: the grid keeps its room
            top = self.frame.top - 0.4 - 0.45
        n = len(p.matrix)
        narrow = self.frame.narrow   # a narrow frame: column title above, caption below the grid
        room = top - self.frame.subtitle_top - 0.3 - (1.6 if narrow and p.caption else 0.0) - (0.5 if narrow else 0)
        cell = min(0.62, room / n, (2 * self.frame.right - 1.6) / n)
        labels = p.labels or [str(i) for i in range(n)]
        fg = self.style["foreground"]
        frame = mn.VGroup()
        rows = [self.text(name, size=26) for name in labels]
        columns = [self.text(name, size=26) for name in labels]
        if max(c.width for c in columns) > cell - 0.04:   # too wide over a column: number them, name them by row
            columns = [self.text(str(i + 1), size=26) for i in range(n)]
            rows = [self.text(f"{i + 1} {name}", size=26) for i, name in enumerate(labels)]
        row_title = self.text(p.row_title, size=28, color=MUTED)
        column_title = self.text(p.column_title, size=28, color=MUTED)
        names_w = max(r.width for r in rows)
        if narrow:   # centre the row titles, row names and grid across the frame
            cell = min(cell, (2 * self.frame.right - 0.5 - row_title.width - names_w) / n)
            y0 = top - 0.5
            x0 = (row_title.width + 0.1 + names_w + 0.3 - cell * n) / 2
        else:
            x0, y0 = -cell * n / 2 - (1.2 if p.caption else -0.4), top       # top-left corner of the grid
            x0 += max(0.0, names_w - 0.45)   # room for the row names
        for i, (row, column) in enumerate(zip(rows, columns)):
            frame.add(row.move_to([x0 - 0.15 - row.width / 2, y0 - cell * (i + 0.5), 0]))
            frame.add(column.move_to([x0 + cell * (i + 0.5), y0 + 0.25, 0]))
        frame.add(row_title.next_to([x0 - 0.3 - names_w, y0 - cell * n / 2, 0], mn.LEFT, buff=0.1))
        if narrow:
            frame.add(column_title.move_to([x0 + cell * n / 2, y0 + 0.7, 0]))
        else:
            frame.add(column_title.next_to([x0 + cell * n, y0 + 0.25, 0], mn.RIGHT, buff=0.2))
        grid = mn.Rectangle(width=cell * n, height=cell * n, stroke_color=fg, stroke_width=2)
        grid.move_to([x0 + cell * n / 2, y0 - cell * n / 2, 0])
        extra = []
        if p.caption and narrow:
            caption = self.label(p.caption, size=30, max_width=2 * self.frame.right - 0.3, max_lines=3, color=MUTED)
            extra.append(mn.FadeIn(caption.next_to(grid, mn.DOWN, buff=0.4).set_x(0)))
        elif p.caption:   # beside the grid, where the space is
            caption = self.label(p.caption, size=30, max_width=self.frame.right - 0.1 - (x0 + cell * n + 0.5),
                                 max_lines=4, color=MUTED)
            extra.append(mn.FadeIn(caption.next_to([x0 + cell * n + 0.5, y0 - cell * n / 2, 0], mn.RIGHT, buff=0)))
        self.play_beat(1, mn.FadeIn(frame), mn.Create(grid), *extra)

        peak = max(max(row) for row in p.matrix) or 1
        accent = mn.ManimColor(self.style["accent"])
        counts = [[self.text(f"{count:g}", size=26, color="#ffffff" if count / peak > 0.3 else MUTED) for count in row]
                  for row in p.matrix]
        # counts only where they fit their cells at a legible size
        show_numbers = max(t.width for row in counts for t in row) <= cell * 0.92
        rows = []
        for i, row in enumerate(p.matrix):
            group = mn.VGroup()
            for j, count in enumerate(row):
                square = mn.Square(side_length=cell * 0.94, stroke_width=0, fill_color=accent,
                                fill_opacity=0.08 + 0.92 * (count / peak) ** 0.5)
                square.move_to([x0 + cell * (j + 0.5), y0 - cell * (i + 0.5), 0])
                group.add(square)
                if show_numbers and count:
                    group.add(counts[i][j].move_to(square))
            rows.append(group)
        self.play_beat(2, mn.LaggedStart(*[mn.FadeIn(r) for r in rows], lag_ratio=0.15))
        if p.highlight:
            worst = max(((p.matrix[i][j], i, j) for i in range(n) for j in range(n) if i != j), default=(0, 0, 0))
            if worst[0] > 0:
                ring = mn.Square(side_length=cell * 1.05, stroke_color=self.style["highlight"], stroke_width=6)
                ring.move_to([x0 + cell * (worst[2] + 0.5), y0 - cell * (worst[1] + 0.5), 0])
                self.play_beat(3, mn.Create(ring))
