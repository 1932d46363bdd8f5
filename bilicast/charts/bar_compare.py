"""Bars side by side: the '*.size_mb' metrics, or the metrics `fields:` names."""
from __future__ import annotations

from bilicast.charts import ChartKind, fmt, palette


def _names(result, fields):
    return fields or [n for n in result.metrics if n.endswith(".size_mb") and n.count(".") == 1]


class Chart(ChartKind):
    def inputs(self, result, fields):
        return {n: result.metrics[n].model_dump() for n in _names(result, fields)}

    def problem(self, result):
        if not _names(result, None):
            return (f"bar_compare draws the '*.size_mb' metrics and the {result.demo} result has none",
                    "name the metrics to compare with `fields:`; metrics there: " + ", ".join(sorted(result.metrics)))
        return None

    def draw(self, fig, ax, result, fields, style, scale):
        names = _names(result, fields)
        values = [result.metrics[n].value for n in names]
        unit = result.metrics[names[0]].unit if names else ""
        bars = ax.bar([n.split(".")[0] for n in names], values, color=palette(style)[: len(values)])
        shown = []
        for bar, name, v in zip(bars, names, values):
            text, how = fmt(v, unit)
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, v), ha="center", va="bottom",
                        xytext=(0, 8 * scale), textcoords="offset points", fontsize=28 * scale, fontweight="bold")
            shown.append((text, v, name, how))
        ax.set_ylabel(unit)
        return shown
