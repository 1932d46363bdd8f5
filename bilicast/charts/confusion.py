"""The confusion matrix (series 'confusion'): true classes down, predicted across."""
from __future__ import annotations

from bilicast.charts import ChartKind, missing_series


class Chart(ChartKind):
    def inputs(self, result, fields):
        return {"confusion": result.series.get("confusion")}

    def problem(self, result):
        return missing_series("confusion", result, ("confusion",))

    def draw(self, fig, ax, result, fields, style, scale):
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
        return []
