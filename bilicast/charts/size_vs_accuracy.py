"""Each variant V as a point: its 'V.size_mb' metric across, 'V.acc' up."""
from __future__ import annotations

from bilicast.charts import ChartKind, fit_axes, metric_pairs, palette, place_labels
from bilicast.filters import FILTERS


class Chart(ChartKind):
    left = 0.2

    def inputs(self, result, fields):
        return {"size": metric_pairs(result, "size_mb"), "acc": metric_pairs(result, "acc")}

    def problem(self, result):
        if not set(metric_pairs(result, "size_mb")) & set(metric_pairs(result, "acc")):
            return (f"size_vs_accuracy needs a 'V.size_mb' and a 'V.acc' metric for the same V; the {result.demo} "
                    "result has no such pair", "metrics there: " + ", ".join(sorted(result.metrics)))
        return None

    def draw(self, fig, ax, result, fields, style, scale):
        colours = palette(style)
        sizes, accs = metric_pairs(result, "size_mb"), metric_pairs(result, "acc")
        variants = [v for v in sizes if v in accs]
        labels, shown = [], []
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
        fit_axes(fig, fig.axes)
        place_labels(fig, ax, labels, scale)
        return shown
