"""Charts from results, in one house style (CJK font, theme colours, sizes
readable on a phone), rendered by matplotlib at the video's resolution.

Each chart returns the numbers it prints, so numbers.json lists them too."""
from __future__ import annotations

from pathlib import Path

from .cache import atomic_path
from .cover import font_file
from .resolve import FILTERS
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


def render_chart(kind: str, result: Result, style, size: tuple[int, int], target: Path, title: str = "",
                 provenance: str = "", fields: list[str] | None = None,
                 video_height: int | None = None) -> list[tuple[str, float, str, str]]:
    """Draw `kind` from `result` into a PNG of `size` (a panel of a video
    `video_height` tall: text is sized for the video, not the panel); returns
    (text, value, field, filter) for each number it prints."""
    plt, fig, scale = _setup(style, size, (video_height or size[1]) / 1080)
    ax = fig.add_axes([0.26 if kind == "latency" else 0.14, 0.2, 0.7 if kind == "latency" else 0.8, 0.62])
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
        lows = [t.ci_low if with_ci else t.min for t in timings]
        highs = [t.ci_high if with_ci else t.p90 for t in timings]
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
        for i, v in enumerate(variants):
            ax.scatter(sizes[v], accs[v] * 100, s=900 * scale, color=colours[i % len(colours)], zorder=3)
            text = f"{v} {FILTERS['mb'](sizes[v])}"
            above = i % 2 == 0   # alternate above/below: variants of equal size and accuracy stay readable
            ax.annotate(text, (sizes[v], accs[v] * 100), xytext=(0, (22 if above else -44) * scale),
                        textcoords="offset points", ha="center", fontsize=24 * scale)
            shown.append((FILTERS["mb"](sizes[v]), sizes[v], f"{v}.size_mb", "mb"))
        ax.set_xlabel("模型体积 (MB)")
        ax.set_ylabel("测试准确率 (%)")
        ax.margins(x=0.35, y=0.6)
        ax.set_ylim(top=min(100.5, ax.get_ylim()[1]))
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

    if title:
        fig.text(0.5, 0.9, title, ha="center", fontsize=44 * scale, fontweight="bold", color=style.foreground)
    if provenance:
        fig.text(0.98, 0.965, provenance, ha="right", va="top", fontsize=20 * scale, color="#9aa0aa")
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return shown
