"""Charts from results, in one house style (CJK font, theme colours, sizes
readable on a phone), rendered by matplotlib at the video's resolution.

Each chart returns the numbers it prints, so numbers.json lists them too."""
from __future__ import annotations

from pathlib import Path

from .cache import atomic_path
from .cover import font_file
from .errors import StageError
from .filters import FILTERS
from .results import Result

CHARTS = ("bar_compare", "latency", "size_vs_accuracy", "training_curve", "confusion")


def _setup(style, size, font_scale):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    for bold in (False, True):
        font_manager.fontManager.addfont(str(font_file(bold)))
    w, h = size
    scale = font_scale
    plt.rcParams.update({
        "font.family": ["Noto Sans CJK SC", "Noto Sans CJK JP", "DejaVu Sans"], "font.size": 26 * scale,
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


def _fmt(value: float, unit: str) -> tuple[str, str]:
    """The text a chart prints for a value, and the filter that made it."""
    name = UNIT_FILTERS.get(unit, "num")
    return FILTERS[name](value), name


def _metric_pairs(result: Result, suffix: str) -> dict:
    return {name[: -len(suffix) - 1]: m.value for name, m in result.metrics.items()
            if name.endswith("." + suffix) and name.count(".") == 1}


def inputs(kind: str, result: Result, fields: list[str] | None = None) -> dict:
    """The part of a result a chart reads: its cache key (another number in the
    same result leaves the chart alone)."""
    if kind == "bar_compare":
        names = fields or [n for n in result.metrics if n.endswith(".size_mb") and n.count(".") == 1]
        return {n: result.metrics[n].model_dump() for n in names}
    if kind == "latency":
        names = fields or [n for n in result.timings if n.endswith("latency_1t")]
        return {n: result.timings[n].model_dump() for n in names}
    if kind == "size_vs_accuracy":
        return {"size": _metric_pairs(result, "size_mb"), "acc": _metric_pairs(result, "acc")}
    if kind == "training_curve":
        return {k: result.series.get(k) for k in ("train.loss", "val.loss", "val.acc")}
    return {"confusion": result.series.get("confusion")}


def data_problem(kind: str, result: Result, fields: list[str] | None = None) -> tuple[str, str] | None:
    """Why `kind` would draw nothing (or a missing field) from `result`, and
    what it could use instead; None when the chart has its data."""
    metrics, timings = sorted(result.metrics), sorted(result.timings)
    if fields:
        pool = timings if kind == "latency" else metrics
        missing = [f for f in fields if f not in pool]
        if missing:
            return (f"{kind} has no field '{missing[0]}' in the {result.demo} result",
                    f"{'timings' if kind == 'latency' else 'metrics'} there: {', '.join(pool) or 'none'}")
        return None
    if kind == "bar_compare" and not inputs(kind, result):
        return (f"bar_compare draws the '*.size_mb' metrics and the {result.demo} result has none",
                "name the metrics to compare with `fields:`; metrics there: " + ", ".join(metrics))
    if kind == "latency" and not inputs(kind, result):
        return (f"latency draws the '*latency_1t' timings and the {result.demo} result has none",
                "name the timings with `fields:`; timings there: " + (", ".join(timings) or "none"))
    if kind == "size_vs_accuracy" and not set(_metric_pairs(result, "size_mb")) & set(_metric_pairs(result, "acc")):
        return (f"size_vs_accuracy needs a 'V.size_mb' and a 'V.acc' metric for the same V; the {result.demo} "
                "result has no such pair", "metrics there: " + ", ".join(metrics))
    needs = {"training_curve": ("train.loss", "val.loss", "val.acc"), "confusion": ("confusion",)}.get(kind, ())
    missing = [n for n in needs if n not in result.series]
    if missing:
        return (f"{kind} draws the series {', '.join(needs)}; the {result.demo} result lacks {', '.join(missing)}",
                "series there: " + (", ".join(sorted(result.series)) or "none"))
    return None


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


def _fit_axes(fig, axes) -> None:
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


def _place_labels(fig, ax, labels, scale) -> None:
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
                 video_short_side: int | None = None) -> list[tuple[str, float, str, str]]:
    """Draw `kind` from `result` into a PNG of `size` (a panel of a video
    whose short side is `video_short_side`: text is sized for the video, not
    the panel); returns
    (text, value, field, filter) for each number it prints."""
    plt, fig, scale = _setup(style, size, (video_short_side or size[1]) / 1080)
    left = {"latency": 0.26, "size_vs_accuracy": 0.2}.get(kind, 0.14)
    right = 0.84 if kind == "training_curve" else 0.96   # room for the second y axis' title
    ax = fig.add_axes([left, 0.2, right - left, 0.62])
    shown: list[tuple[str, float, str, str]] = []
    colours = [style.accent, style.highlight, "#f6c453", "#6bd490", "#b084f5", "#f08a5d"]

    if kind == "bar_compare":
        names = fields or [n for n in result.metrics if n.endswith(".size_mb") and n.count(".") == 1]
        values = [result.metrics[n].value for n in names]
        unit = result.metrics[names[0]].unit if names else ""
        bars = ax.bar([n.split(".")[0] for n in names], values, color=colours[: len(values)])
        for bar, name, v in zip(bars, names, values):
            text, how = _fmt(v, unit)
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, v), ha="center", va="bottom",
                        xytext=(0, 8 * scale), textcoords="offset points", fontsize=28 * scale, fontweight="bold")
            shown.append((text, v, name, how))
        ax.set_ylabel(unit)
    elif kind == "latency":
        names = fields or [n for n in result.timings if n.endswith("latency_1t")]
        timings = [result.timings[n] for n in names]
        labels = [n.replace(".latency_1t", "").replace(".latency_all", " (all)") for n in names]
        y = range(len(names))
        # Error bars: the median's 95 % confidence interval (older results: min to p90).
        with_ci = all(t.ci_low and t.ci_high for t in timings)
        lows = [t.ci_low if with_ci and t.ci_low else t.min for t in timings]
        highs = [t.ci_high if with_ci and t.ci_high else t.p90 for t in timings]
        ax.barh(y, [t.median for t in timings], color=colours[: len(names)], height=0.55)
        ax.errorbar([t.median for t in timings], y, xerr=[[t.median - lo for t, lo in zip(timings, lows)],
                    [hi - t.median for t, hi in zip(timings, highs)]], fmt="none", ecolor=style.foreground,
                    capsize=8 * scale, lw=2 * scale)
        for i, (name, t) in enumerate(zip(names, timings)):
            text = FILTERS["ms"](t.median)
            ax.annotate(text, (max(highs[i], t.median), i), xytext=(12 * scale, 0), textcoords="offset points",
                        va="center", fontsize=26 * scale, fontweight="bold")
            shown.append((text, t.median, f"{name}.median", "ms"))
        ax.set_yticks(list(y), labels)
        ax.set_xlim(0, max(highs) * 1.4)   # room for the value labels
        ax.invert_yaxis()
        ax.set_xlabel("毫秒（中位数，误差线：95%置信区间）" if with_ci else "毫秒（中位数，误差线：最小值–p90）")
    elif kind == "size_vs_accuracy":
        sizes, accs = _metric_pairs(result, "size_mb"), _metric_pairs(result, "acc")
        variants = [v for v in sizes if v in accs]
        labels = []
        for i, v in enumerate(variants):
            # Rings of decreasing size, largest first: formats that land on the
            # same spot stay visible as concentric rings.
            ax.scatter(sizes[v], accs[v] * 100, s=(1400 - 260 * min(i, 4)) * scale, color=colours[i % len(colours)],
                       zorder=3 + i, edgecolors=style.background, linewidths=3 * scale)
            labels.append(ax.annotate(f"{v} {FILTERS['mb'](sizes[v])}", (sizes[v], accs[v] * 100),
                                      xytext=(0, 0), textcoords="offset points", ha="center", va="center", fontsize=24 * scale,
                                      color=colours[i % len(colours)], fontweight="bold"))
            shown.append((FILTERS["mb"](sizes[v]), sizes[v], f"{v}.size_mb", "mb"))
        ax.set_xlabel("模型体积 (MB)")
        ax.set_ylabel("测试准确率 (%)", labelpad=16 * scale)
        ax.margins(x=0.35, y=0.6)
        ax.set_ylim(top=min(100.5, ax.get_ylim()[1]))
        _fit_axes(fig, fig.axes)
        _place_labels(fig, ax, labels, scale)
    elif kind == "training_curve":
        s = result.series
        epochs = range(1, len(s["train.loss"]) + 1)
        ax.plot(epochs, s["train.loss"], color=style.accent, label="训练 loss")
        ax.plot(epochs, s["val.loss"], color=style.highlight, label="验证 loss")
        ax2 = ax.twinx()
        ax2.plot(epochs, [a * 100 for a in s["val.acc"]], color="#6bd490", linestyle="--", label="验证准确率 %")
        ax2.set_ylabel("准确率 %")
        ax2.grid(False)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        ax.legend(lines, [ln.get_label() for ln in lines], loc="center right", frameon=False)
    elif kind == "confusion":
        import numpy as np
        m = np.array(result.series["confusion"])
        ax.set_position([0.3, 0.14, 0.4, 0.72])
        ax.imshow(m, cmap="Blues")
        ax.grid(False)
        for (r, c), v in np.ndenumerate(m):
            if v:
                ax.text(c, r, str(v), ha="center", va="center", fontsize=18 * scale,
                        color="white" if v > m.max() / 2 else "#222222")
        ax.set_xticks(range(m.shape[1]))
        ax.set_yticks(range(m.shape[0]))
        ax.set_xlabel("预测")
        ax.set_ylabel("真实")
    else:
        raise ValueError(f"unknown chart {kind!r}; charts: {', '.join(CHARTS)}")

    _fit_axes(fig, fig.axes)
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
