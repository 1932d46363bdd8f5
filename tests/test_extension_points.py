"""Chart kinds and transitions are registries (bilicast/registry.py): one
file in the workspace's charts/ or transitions/ adds one, with no other
edit, found by the script's validation and drawn by a real render."""
import json
import subprocess
import sys

import pytest

from bilicast import cli
from conftest import ROOT

DOTS = '''\
"""A creator's own chart: the validation accuracy per epoch, as dots."""
from bilicast.charts import ChartKind, palette


class Chart(ChartKind):
    def inputs(self, result, fields):
        return {"val.acc": result.series.get("val.acc")}

    def problem(self, result):
        if "val.acc" not in result.series:
            return "dots draws the series val.acc", "series there: " + ", ".join(result.series)
        return None

    def draw(self, fig, ax, result, fields, style, scale):
        values = result.series["val.acc"]
        ax.scatter(range(1, len(values) + 1), values, s=600 * scale, color=palette(style)[0])
        ax.set_xlabel("epoch")
        return []
'''

CHART_EPISODE = """\
episode: {id: dots, title: 点图, subtitles: {burn_in: false}}
bench:
  quant: {demo: tflite_quantize}
segments:
  - id: acc
    scene: titles.Heading
    params: {title: 准确率}
    min_duration: 1.5
    overlay: {chart: dots, data: quant, position: right}
"""


@pytest.fixture
def chart_workspace(workspace):
    """A workspace with a charts/dots.py and a hand-made result (test data)."""
    from bilicast.bench import DemoRegistry, result_path
    (workspace / "demos").symlink_to(ROOT / "demos")
    (workspace / "charts").mkdir()
    (workspace / "charts" / "dots.py").write_text(DOTS, encoding="utf-8")
    params = DemoRegistry(workspace).effective_params("tflite_quantize", {}, True)
    path = result_path(workspace / "results", "tflite_quantize", params, True)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({
        "schema": "bilicast.result/1", "demo": "tflite_quantize", "params": params, "tiny": True,
        "metrics": {"int8.acc": {"value": 0.9, "unit": "ratio"}}, "timings": {},
        "series": {"val.acc": [0.61, 0.78, 0.85, 0.88]}, "notes": [], "artifacts": {},
        "provenance": {"python": "3.11.7", "tensorflow": "2.21.0", "keras": "3.15.1", "litert": "2.3.0",
                       "numpy": "2.4.6", "platform": "Linux", "cpu": "Test CPU", "cores": 2, "accelerator": None,
                       "machine": "test", "date": "2026-11-26T00:00:00+00:00", "code_hash": "0" * 64,
                       "duration_s": 1.0}}))
    (workspace / "ep.yaml").write_text(CHART_EPISODE, encoding="utf-8")
    return workspace


def render(workspace):
    return subprocess.run([sys.executable, "-m", "bilicast.cli", "render", "ep.yaml", "--preview", "--out", "out"],
                          capture_output=True, text=True, cwd=workspace)


def test_a_workspace_chart_kind_is_drawn_and_keyed_by_its_file(chart_workspace):
    from bilicast import charts
    from bilicast.codehash import code_components
    assert set(charts.available(chart_workspace)) == {"bar_compare", "latency", "size_vs_accuracy",
                                                      "training_curve", "confusion", "dots"}
    code = code_components(*charts.code_files("dots", chart_workspace), workspace=chart_workspace)
    assert {"code:charts/dots.py", "code:bilicast/charts/__init__.py"} <= set(code)   # its key follows its file
    proc = render(chart_workspace)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list((chart_workspace / ".cache" / "charts").glob("acc-dots-*.png"))


def test_an_unknown_chart_kind_is_a_located_error(chart_workspace, capsys):
    script = chart_workspace / "ep.yaml"
    script.write_text(CHART_EPISODE.replace("chart: dots", "chart: dot"), encoding="utf-8")
    assert cli.main(["render", str(script), "--preview", "--out", str(chart_workspace / "out")]) == 2
    err = capsys.readouterr().err
    assert "ep.yaml:9:" in err and "unknown chart 'dot'" in err and "did you mean 'dots'" in err, err
    assert "charts: bar_compare, confusion, latency, size_vs_accuracy, training_curve, dots" in err and "Traceback" not in err


TRANSITION_EPISODE = """\
episode: {id: wipe, title: 擦除, subtitles: {burn_in: false}}
segments:
  - {id: a, scene: titles.TitleCard, params: {title: 第一段}, min_duration: 1.5}
  - {id: b, scene: titles.TitleCard, params: {title: 第二段}, min_duration: 1.5, transition: wipe}
"""


@pytest.fixture
def wipe_workspace(workspace):
    (workspace / "transitions").mkdir()
    (workspace / "transitions" / "wipe.py").write_text('"""A wipe to the left."""\nXFADE = "wipeleft"\n',
                                                       encoding="utf-8")
    (workspace / "ep.yaml").write_text(TRANSITION_EPISODE, encoding="utf-8")
    return workspace


def test_a_workspace_transition_makes_a_head(wipe_workspace):
    from bilicast import transitions
    assert transitions.available(wipe_workspace) == {"crossfade": "fade", "slide": "slideleft", "wipe": "wipeleft"}
    proc = render(wipe_workspace)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(list((wipe_workspace / ".cache" / "transitions").glob("b-*.mp4"))) == 1


def test_an_unknown_transition_is_a_located_error(wipe_workspace, capsys):
    script = wipe_workspace / "ep.yaml"
    script.write_text(TRANSITION_EPISODE.replace("transition: wipe", "transition: wipes"), encoding="utf-8")
    assert cli.main(["render", str(script), "--preview", "--out", str(wipe_workspace / "out")]) == 2
    err = capsys.readouterr().err
    assert "ep.yaml:4:" in err and "unknown transition 'wipes'" in err and "did you mean 'wipe'" in err, err
    assert "transitions: cut, crossfade, slide, wipe" in err and "Traceback" not in err
