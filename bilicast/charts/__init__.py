"""Charts from results, in one house style (CJK font, theme colours, sizes
readable on a phone), rendered by matplotlib at the video's resolution.

Each kind of chart is one module: bilicast/charts/<kind>.py, or
charts/<kind>.py in the workspace for a creator's own. A module defines
`Chart`, a ChartKind subclass; the file's name is what an overlay's `chart:`
says. This module sets up the figure and finishes it (title, provenance,
the legibility check); a kind plots its data and returns the numbers it
prints, so numbers.json lists them too.

Kinds import from bilicast by its full name (`from bilicast.charts import
ChartKind`): a chart's cache key follows those imports (codehash.py)."""
from __future__ import annotations

import sys
from pathlib import Path

from bilicast.cache import atomic_path
from bilicast.errors import StageError, UserError
from bilicast.filters import FILTERS
from bilicast.registry import entries
from bilicast.results import Result

Shown = tuple[str, float, str, str]   # (text, value, field, filter) of a number a chart prints


class ChartKind:
    """A kind of chart: what it reads from a result, and how it plots it."""
    left = 0.14               # the plot area's left edge, a fraction of the width (room for tick labels)
    right = 0.96              # its right edge (less leaves room for a second y axis' title)
    fields_from = "metrics"   # what an overlay's `fields:` names: "metrics" or "timings"

    def inputs(self, result: Result, fields: list[str] | None) -> dict:
        """The part of `result` the chart reads: its cache key (another number
        in the same result leaves the chart alone). By default all of it."""
        return result.model_dump(mode="json")

    def problem(self, result: Result) -> tuple[str, str] | None:
        """Why the chart would draw nothing from `result` without `fields:`,
        and what it could use instead; None when it has its data."""
        return None

    def draw(self, fig, ax, result: Result, fields: list[str] | None, style, scale: float) -> list[Shown]:
        """Plot `result` on `ax` (the house style is set; `scale` sizes text
        and lines for the video); return what it prints."""
        raise NotImplementedError


def available(workspace: Path | None = None) -> dict[str, type[ChartKind]]:
    return entries("charts", workspace, "Chart")   # type: ignore[return-value]


def get(kind: str, workspace: Path | None = None) -> ChartKind:
    found = available(workspace)
    if kind not in found:
        raise UserError(f"unknown chart '{kind}'; charts: {', '.join(found)}")
    return found[kind]()


def code_files(kind: str, workspace: Path | None = None) -> list[Path]:
    """The files that draw `kind`: its module and this one (what they import
    is found by codehash.code_components)."""
    module = sys.modules[available(workspace)[kind].__module__]
    return [Path(str(module.__file__)), Path(__file__)]


def palette(style) -> list[str]:
    return [style.accent, style.highlight, "#f6c453", "#6bd490", "#b084f5", "#f08a5d"]


def _setup(style, size, font_scale, workspace: Path | None = None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bilicast.fonts import matplotlib_families, resolve

    families = matplotlib_families(resolve(style.font, workspace))   # the style's font (docs/fonts.md)
    w, h = size
    scale = font_scale
    plt.rcParams.update({
        "font.family": families, "font.size": 26 * scale,
        "axes.titlesize": 40 * scale, "axes.labelsize": 28 * scale, "xtick.labelsize": 26 * scale,
        "ytick.labelsize": 24 * scale, "legend.fontsize": 24 * scale, "axes.unicode_minus": False,
        "figure.facecolor": style.background, "axes.facecolor": style.background, "savefig.facecolor": style.background,
        "text.color": style.foreground, "axes.labelcolor": style.foreground, "axes.edgecolor": "#555a66",
        "xtick.color": style.foreground, "ytick.color": style.foreground, "axes.titleweight": "bold",
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.color": "#2c303a",
        "lines.linewidth": 5 * scale,
    })
    fig = plt.figure(figsize=(w / 100, h / 100), dpi=100)
    return plt, fig, scale


UNIT_FILTERS = {"MB": "mb", "ms": "ms", "ratio": "pct", "fps": "fps", "x": "x", "s": "sec"}


def fmt(value: float, unit: str) -> tuple[str, str]:
    """The text a chart prints for a value, and the filter that made it."""
    name = UNIT_FILTERS.get(unit, "num")
    return FILTERS[name](value), name


def metric_pairs(result: Result, suffix: str) -> dict:
    """{V: value} of the metrics named V.<suffix>."""
    return {name[: -len(suffix) - 1]: m.value for name, m in result.metrics.items()
            if name.endswith("." + suffix) and name.count(".") == 1}


def missing_series(kind: str, result: Result, needs: tuple[str, ...]) -> tuple[str, str] | None:
    """The problem of a chart that draws the series `needs`, when the result lacks some."""
    missing = [n for n in needs if n not in result.series]
    if missing:
        return (f"{kind} draws the series {', '.join(needs)}; the {result.demo} result lacks {', '.join(missing)}",
                "series there: " + (", ".join(sorted(result.series)) or "none"))
    return None


def inputs(kind: str, result: Result, fields: list[str] | None = None, workspace: Path | None = None) -> dict:
    """The part of a result a chart reads: its cache key (another number in the
    same result leaves the chart alone)."""
    return get(kind, workspace).inputs(result, fields)


def data_problem(kind: str, result: Result, fields: list[str] | None = None,
                 workspace: Path | None = None) -> tuple[str, str] | None:
    """Why `kind` would draw nothing (or a missing field) from `result`, and
    what it could use instead; None when the chart has its data."""
    chart = get(kind, workspace)
    if fields:
        pool = sorted(getattr(result, chart.fields_from))
        missing = [f for f in fields if f not in pool]
        if missing:
            return (f"{kind} has no field '{missing[0]}' in the {result.demo} result",
                    f"{chart.fields_from} there: {', '.join(pool) or 'none'}")
        return None
    return chart.problem(result)


def _text_boxes(fig, renderer):
    """(text, window extent) of every visible, non-empty text the figure draws."""
    from matplotlib.text import Text
    undrawn = set()   # tick labels of ticks outside the axis range exist but are not drawn
    for ax in fig.axes:
        for ticks, labels, (lo, hi) in ((ax.get_xticks(), ax.get_xticklabels(), ax.get_xlim()),
                                        (ax.get_yticks(), ax.get_yticklabels(), ax.get_ylim())):
            lo, hi = min(lo, hi), max(lo, hi)
            undrawn |= {id(lb) for t, lb in zip(ticks, labels) if not lo - 1e-9 <= t <= hi + 1e-9}
        for axis in (ax.xaxis, ax.yaxis):   # a twin's shared axis is hidden, its texts with it
            if not axis.get_visible():
                undrawn |= {id(t) for t in axis.get_ticklabels(which="both") + [axis.label]}
    out, seen = [], set()
    for artist in fig.findobj(Text):
        if id(artist) in seen:   # findobj can reach one text along two paths
            continue
        seen.add(id(artist))
        if (artist.get_visible() and artist.get_text().strip() and artist.get_figure() is not None
                and id(artist) not in undrawn):
            box = artist.get_window_extent(renderer)
            if box.width > 0 and box.height > 0:
                out.append((artist.get_text(), box))
    return out


def illegible_texts(fig) -> list[str]:
    """Texts whose boxes intersect, or that the figure's edge cuts (tick
    labels, axis titles, annotations, titles alike): a chart must have none."""
    fig.canvas.draw()   # axis titles and ticks find their places while drawing
    renderer = fig.canvas.get_renderer()
    boxes = _text_boxes(fig, renderer)
    frame = fig.bbox
    cut = [f"{a!r} is cut by the chart's edge" for a, box in boxes
           if box.x0 < frame.x0 - 1 or box.y0 < frame.y0 - 1 or box.x1 > frame.x1 + 1 or box.y1 > frame.y1 + 1]
    return cut + [f"{a!r} and {b!r} overlap" for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1:]
                  if box_a.overlaps(box_b)]


def fit_axes(fig, axes) -> None:
    """Shrink the plot area until its tick labels and axis titles lie inside
    the figure (long category names on the y axis need more room)."""
    from matplotlib.transforms import Bbox
    for _ in range(3):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        tight, frame = Bbox.union([a.get_tightbbox(renderer) for a in axes]), fig.bbox
        over = {"left": frame.x0 - tight.x0, "right": tight.x1 - frame.x1, "bottom": frame.y0 - tight.y0}
        if max(over.values()) <= 0:
            return
        # the overflow as a fraction of the figure, plus a 1 % margin
        left, right = ((over[k] / frame.width + 0.01) if over[k] > 0 else 0 for k in ("left", "right"))
        bottom = (over["bottom"] / frame.height + 0.01) if over["bottom"] > 0 else 0
        pos = axes[0].get_position()
        for a in axes:
            a.set_position([pos.x0 + left, pos.y0 + bottom, pos.width - left - right, pos.height - bottom])


def place_labels(fig, ax, labels, scale) -> None:
    """Put each point's label at the first of several spots around it (above,
    below, right, left, then further out) where it overlaps no label placed
    before it, no axis text and no point."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    axis_texts = [t.get_window_extent(renderer) for t in ax.get_xticklabels() + ax.get_yticklabels()
                  + [ax.xaxis.label, ax.yaxis.label] if t.get_text().strip()]
    points = [ax.transData.transform(lb.xy) for lb in labels]
    radius = 22 * scale * fig.dpi / 72   # about a marker's radius, in pixels
    frame = ax.get_window_extent(renderer)
    spots = [(0, 36), (0, -36), (90, 0), (-90, 0), (70, 30), (-70, 30), (70, -30), (-70, -30)]
    placed: list = []   # the labels' boxes (matplotlib Bbox)
    for label in labels:
        for distance in (1, 1.8, 2.6, 3.4):
            for dx, dy in spots:
                label.set_position((dx * distance * scale, dy * distance * scale))
                box = label.get_window_extent(renderer)
                clear_of_points = not any(box.x0 - radius < qx < box.x1 + radius and box.y0 - radius < qy < box.y1 + radius
                                          for qx, qy in points)
                inside = frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1)
                if clear_of_points and inside and not any(box.overlaps(b) for b in placed + axis_texts):
                    break
            else:
                continue
            break
        placed.append(label.get_window_extent(renderer))


def render_chart(kind: str, result: Result, style, size: tuple[int, int], target: Path, title: str = "",
                 provenance: str = "", fields: list[str] | None = None,
                 video_short_side: int | None = None, workspace: Path | None = None) -> list[Shown]:
    """Draw `kind` from `result` into a PNG of `size` (a panel of a video
    whose short side is `video_short_side`: text is sized for the video, not
    the panel); returns
    (text, value, field, filter) for each number it prints."""
    chart = get(kind, workspace)
    plt, fig, scale = _setup(style, size, (video_short_side or size[1]) / 1080, workspace)
    ax = fig.add_axes([chart.left, 0.2, chart.right - chart.left, 0.62])
    shown = chart.draw(fig, ax, result, fields, style, scale)

    fit_axes(fig, fig.axes)
    if title:
        fig.text(0.5, 0.9, title, ha="center", fontsize=44 * scale, fontweight="bold", color=style.foreground)
    if provenance:
        fig.text(0.98, 0.965, provenance, ha="right", va="top", fontsize=20 * scale, color="#9aa0aa")
    problems = illegible_texts(fig)
    if problems:
        plt.close(fig)
        raise StageError(f"chart {kind} would not be legible: {problems[0]}",
                         "shorten the labels or plot fewer fields (`fields:`)")
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return shown
