"""Training and validation loss per epoch, validation accuracy on a second axis."""
from __future__ import annotations

from bilicast.charts import ChartKind, missing_series

SERIES = ("train.loss", "val.loss", "val.acc")


class Chart(ChartKind):
    right = 0.84   # room for the second y axis' title

    def inputs(self, result, fields):
        return {k: result.series.get(k) for k in SERIES}

    def problem(self, result):
        return missing_series("training_curve", result, SERIES)

    def draw(self, fig, ax, result, fields, style, scale):
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
        return []
