"""Horizontal bars of latency medians with their 95 % confidence intervals:
the '*latency_1t' timings, or the timings `fields:` names."""
from __future__ import annotations

from bilicast.charts import ChartKind, palette
from bilicast.filters import FILTERS


def _names(result, fields):
    return fields or [n for n in result.timings if n.endswith("latency_1t")]


class Chart(ChartKind):
    left = 0.26   # room for the variants' names
    fields_from = "timings"

    def inputs(self, result, fields):
        return {n: result.timings[n].model_dump() for n in _names(result, fields)}

    def problem(self, result):
        if not _names(result, None):
            return (f"latency draws the '*latency_1t' timings and the {result.demo} result has none",
                    "name the timings with `fields:`; timings there: " + (", ".join(sorted(result.timings)) or "none"))
        return None

    def draw(self, fig, ax, result, fields, style, scale):
        names = _names(result, fields)
        timings = [result.timings[n] for n in names]
        labels = [n.replace(".latency_1t", "").replace(".latency_all", " (all)") for n in names]
        y = range(len(names))
        # Error bars: the median's 95 % confidence interval (older results: min to p90).
        with_ci = all(t.ci_low and t.ci_high for t in timings)
        lows = [t.ci_low if with_ci and t.ci_low else t.min for t in timings]
        highs = [t.ci_high if with_ci and t.ci_high else t.p90 for t in timings]
        ax.barh(y, [t.median for t in timings], color=palette(style)[: len(names)], height=0.55)
        ax.errorbar([t.median for t in timings], y, xerr=[[t.median - lo for t, lo in zip(timings, lows)],
                    [hi - t.median for t, hi in zip(timings, highs)]], fmt="none", ecolor=style.foreground,
                    capsize=8 * scale, lw=2 * scale)
        shown = []
        for i, (name, t) in enumerate(zip(names, timings)):
            text = FILTERS["ms"](t.median)
            ax.annotate(text, (max(highs[i], t.median), i), xytext=(12 * scale, 0), textcoords="offset points",
                        va="center", fontsize=26 * scale, fontweight="bold")
            shown.append((text, t.median, f"{name}.median", "ms"))
        ax.set_yticks(list(y), labels)
        ax.set_xlim(0, max(highs) * 1.4)   # room for the value labels
        ax.invert_yaxis()
        ax.set_xlabel("毫秒（中位数，误差线：95%置信区间）" if with_ci else "毫秒（中位数，误差线：最小值–p90）")
        return shown
