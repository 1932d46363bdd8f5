"""Templates filled from results: filters, sandbox, errors, change tracking,
numbers.json and charts. Result files here are hand-made test data (the real
demos are exercised in test_bench.py)."""
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

from bilicast import cli
from bilicast.bench import DemoRegistry, result_path
from bilicast.filters import FILTERS
from conftest import ROOT


@pytest.mark.parametrize("name,value,args,text", [
    ("mb", 13.923312, (), "13.9 MB"), ("mb", 0.1445, (), "145 KB"), ("mb", 1.5, (), "1.50 MB"),
    ("ms", 0.06754, (), "0.0675 ms"), ("ms", 12.345, (), "12.3 ms"), ("fps", 14805.4, (), "14,805 FPS"),
    ("pct", 0.9222, (), "92.2%"), ("pct", -0.00185, (True,), "−0.2%"), ("pct", 0.0123, (True,), "+1.2%"),
    ("x", 3.8095, (), "3.8×"), ("sec", 2.122, (), "2.12 秒"), ("cn", 35000, (), "3.50万"), ("cn", 12, (), "12"),
    ("num", 3.14159, (3,), "3.142"),
])
def test_filters_round_as_documented(name, value, args, text):
    assert FILTERS[name](value, *args) == text


def fake_result(demo, params, tiny, metrics, timings=None):
    """A schema-valid result file (test data, not a measurement)."""
    return {
        "schema": "bilicast.result/1", "demo": demo, "params": params, "tiny": tiny,
        "metrics": {k: {"value": v, "unit": u} for k, (v, u) in metrics.items()},
        "timings": timings or {}, "series": {}, "notes": [], "artifacts": {},
        "provenance": {"python": "3.11.7", "tensorflow": "2.21.0", "keras": "3.15.1", "litert": "2.3.0",
                       "numpy": "2.4.6", "platform": "Linux", "cpu": "Test CPU", "cores": 2, "accelerator": None,
                       "machine": "test", "date": "2026-11-26T00:00:00+00:00", "code_hash": "0" * 64,
                       "duration_s": 1.0},
    }


METRICS = {"fp32.size_mb": (0.55, "MB"), "int8.size_mb": (0.1445, "MB"), "fp32.acc": (0.9259, "ratio"),
           "int8.acc": (0.9241, "ratio"), "int8.size_ratio": (3.81, "x")}
TIMINGS = {"fp32.latency_1t": {"unit": "ms", "samples": 50, "warmup": 10, "median": 0.07, "p90": 0.08, "min": 0.06,
                               "max": 0.1, "mean": 0.072, "stdev": 0.01, "threads": 1, "init_ms": 2.0}}

EPISODE = """\
episode:
  id: numbers
  title: 量化实测
  cover: {badge: "体积 {{ (quant.int8.size_mb / quant.fp32.size_mb - 1) | pct }}"}
bench:
  quant: {demo: tflite_quantize}
segments:
  - id: plain
    scene: titles.TitleCard
    params: {title: 没有数字的段落}
    narration: [这一段不用任何结果。]
  - id: sizes
    scene: data.BeforeAfter
    params:
      before_label: float32
      after_label: int8
      before: "{{ quant.fp32.size_mb }}"
      after: "{{ quant.int8.size_mb }}"
      before_text: "{{ quant.fp32.size_mb | mb }}"
      after_text: "{{ quant.int8.size_mb | mb }}"
    narration:
      - 量化之后从 {{ quant.fp32.size_mb | mb }} 降到 {{ quant.int8.size_mb | mb }}。
  - id: accuracy
    scene: titles.Heading
    params: {title: "精度变化 {{ (quant.int8.acc - quant.fp32.acc) | pct(true) }}"}
    narration: ["延迟中位数 {{ quant.fp32.latency_1t.median | ms }}。"]
    overlay: {chart: size_vs_accuracy, data: quant, position: right}
"""


@pytest.fixture
def episode(workspace):
    (workspace / "demos").symlink_to(ROOT / "demos")
    registry = DemoRegistry(workspace)
    params = registry.effective_params("tflite_quantize", {}, True)
    path = result_path(workspace / "results", "tflite_quantize", params, True)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(fake_result("tflite_quantize", params, True, METRICS, TIMINGS)))
    script = workspace / "ep.yaml"
    script.write_text(EPISODE, encoding="utf-8")
    return script, path


def keys(script):
    from bilicast.episode import load_episode
    from bilicast.plan import plan_segments
    from bilicast.render import plan_with_voice
    ep = load_episode(script)
    plan, = plan_with_voice(ep, preview=True)
    return {j.segment: j.key for j in plan_segments(plan, ep.scenes, ep)}, ep


def test_templates_fill_text_params_and_provenance(episode):
    script, _ = episode
    from bilicast.episode import load_episode
    ep = load_episode(script)
    segs = {s.id: s for s in ep.script.segments}
    assert segs["sizes"].narration[0].text == "量化之后从 550 KB 降到 145 KB。"
    assert segs["sizes"].params["after"] == pytest.approx(0.1445)
    assert segs["sizes"].params["provenance"].startswith("实测：Test CPU · 1 线程 · TF 2.21 · 2026-11-26")
    assert segs["accuracy"].params["title"] == "精度变化 −0.2%"
    assert ep.script.episode.cover.badge == "体积 −73.7%"


def test_one_changed_number_rebuilds_only_its_segments(episode):
    script, result = episode
    before, _ = keys(script)
    data = json.loads(result.read_text())
    data["metrics"]["int8.size_mb"]["value"] = 0.2
    result.write_text(json.dumps(data))
    after, _ = keys(script)
    assert {s for s in before if before[s] != after[s]} == {"sizes", "accuracy"}   # accuracy: its chart shows sizes
    data["metrics"]["fp32.acc"]["value"] = 0.95
    result.write_text(json.dumps(data))
    again, _ = keys(script)
    assert {s for s in after if after[s] != again[s]} == {"accuracy"}


def test_render_writes_numbers_json_with_sources(episode, workspace):
    script, result = episode
    proc = subprocess.run([sys.executable, "-m", "bilicast.cli", "render", str(script), "--preview", "--out",
                           str(workspace / "out")], capture_output=True, text=True, cwd=workspace)
    assert proc.returncode == 0, proc.stderr
    numbers = json.loads((workspace / "out" / "numbers" / "main" / "numbers.json").read_text())
    narration = [n for n in numbers if n["where"] == "segments[1].narration[0].text"]
    assert [n["text"] for n in narration] == ["550 KB", "145 KB"]
    assert narration[1]["sources"] == [{"file": str(result), "field": "int8.size_mb", "raw": 0.1445}]
    start, end = narration[0]["time"]
    assert 0 < start < end
    assert any(n["where"] == "segments[2].overlay" and n["text"] == "145 KB" for n in numbers)
    assert any(n["where"] == "episode.cover.badge" for n in numbers)


def test_a_changed_filter_redraws_the_chart_and_passes_verify(episode, engine_copy):
    """Charts are keyed by the code that shapes their text, filters included:
    with an edited copy of the engine, the chart is redrawn with the new
    text and the numbers it shows still check against their source."""
    script, _ = episode
    engine, env = engine_copy

    def run(*args):
        proc = subprocess.run([sys.executable, "-m", "bilicast.cli", *args, "ep.yaml", "--preview"],
                              capture_output=True, text=True, cwd=script.parent, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout
    run("render")
    resolve_py = engine / "filters.py"
    old = 'return f"{_sig(x * 1000)} KB"'
    assert old in resolve_py.read_text()
    resolve_py.write_text(resolve_py.read_text().replace(old, 'return f"{_sig(x * 1000)} kB"'))
    assert "accuracy         to build" in run("plan")
    run("render")
    shown = json.loads((script.parent / "out" / "numbers" / "main" / "numbers.json").read_text(encoding="utf-8"))
    assert any(n["text"].endswith(" kB") and n["where"] == "segments[2].overlay" for n in shown), shown


def test_render_refuses_numbers_that_disagree_with_their_source(episode):
    script, result = episode
    from bilicast.bundle import write_numbers
    from bilicast.episode import load_episode
    from bilicast.render import plan_with_voice
    ep = load_episode(script)
    data = json.loads(result.read_text())
    data["metrics"]["int8.size_mb"]["value"] = 0.3   # the result changes after the text was resolved
    result.write_text(json.dumps(data))
    from bilicast.errors import StageError
    with pytest.raises(StageError) as e:
        write_numbers(plan_with_voice(ep, True)[0], ep, script.parent)
    assert "145 KB" in e.value.log and "300 KB" in e.value.log


@pytest.mark.parametrize("old,new,line,needle", [
    ("{{ quant.fp32.latency_1t.median | ms }}", "{{ quant.fp33.size_mb | mb }}", 26,
     "'quant' has no 'fp33'; it has: fp32, int8, log, notes"),
    ("{{ quant.fp32.latency_1t.median | ms }}", "{{ qaunt.fp32.size_mb }}", 26, "'qaunt' is undefined"),
    ("{{ quant.fp32.latency_1t.median | ms }}", "{{ quant.__class__.__mro__ }}", 26, "sandbox"),
    ("{{ quant.fp32.latency_1t.median | ms }}", "{{ ''.__class__.__mro__[1].__subclasses__() }}", 26, "sandbox"),
    ("{{ quant.fp32.latency_1t.median | ms }}", "{{ 'abc' | mb }}", 26, "needs a number"),
    ("{{ quant.fp32.latency_1t.median | ms }}", "{{ quant.size_mb | mb }}", 26,    # a filter on a missing key
     "'quant' has no 'size_mb'; it has: fp32, int8, log, notes"),
    ("{{ quant.fp32.latency_1t.median | ms }}", "{{ quant.fp32.size_mb | megabytes }}", 26, "megabytes"),
    ("{{ quant.fp32.latency_1t.median | ms }}", "{{ quant.fp32.size_mb | ms ", 26, "syntax error"),
    ('before: "{{ quant.fp32.size_mb }}"', 'before: "{{ quant.fp32 }}"', 17, "group of results"),
])
def test_template_errors_are_clear(episode, capsys, old, new, line, needle):
    script, _ = episode
    script.write_text(EPISODE.replace(old, new), encoding="utf-8")
    assert cli.main(["render", str(script), "--preview", "--out", str(script.parent / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{script}:{line}:" in err and needle in err, err
    assert "Traceback" not in err
    assert not (script.parent / "out").exists()


def test_missing_result_is_a_clear_error(workspace, capsys):
    (workspace / "demos").symlink_to(ROOT / "demos")
    (workspace / "ep.yaml").write_text(EPISODE, encoding="utf-8")
    assert cli.main(["render", str(workspace / "ep.yaml")]) == 2
    assert "bilicast bench" in capsys.readouterr().err


def glyph(text, size=64):
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(1.2, 1.2), dpi=100)
    fig.text(0.5, 0.5, text, fontsize=size, ha="center", va="center")
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., 0].copy()
    plt.close(fig)
    return img


def test_chart_renders_cjk_at_video_size(tmp_path):
    from bilicast.charts import render_chart
    from bilicast.results import Result
    from bilicast.script import Style
    result = Result.model_validate(fake_result("tflite_quantize", {}, True, METRICS, TIMINGS))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shown = render_chart("size_vs_accuracy", result, Style(), (1920, 1080), tmp_path / "c.png", "模型体积对比",
                             "实测：Test CPU")
    assert not [w for w in caught if "missing from" in str(w.message)], [str(w.message) for w in caught]
    with Image.open(tmp_path / "c.png") as img:
        assert img.size == (1920, 1080)
        pixels = np.asarray(img.convert("L"), dtype=float)
    assert pixels.std() > 5   # not blank
    assert ("145 KB", 0.1445, "int8.size_mb", "mb") in shown
    # CJK glyphs in the house style are real glyphs, not identical "tofu" boxes.
    a, b, c = glyph("模"), glyph("型"), glyph("\U0010fffd")
    assert not np.array_equal(a, b) and not np.array_equal(a, c)


def timing(median, low, high):
    return {"unit": "ms", "samples": 300, "warmup": 10, "median": median, "p90": high, "min": low, "max": high,
            "mean": median, "stdev": 0.001, "threads": 1, "ci_low": low, "ci_high": high, "processes": 3}


def speed_sentence(a, b):
    """What the season's three-branch comparison says for timings a and b."""
    from bilicast.measured import result_namespace
    from bilicast.resolve import fill
    from bilicast.results import Result
    result = Result.model_validate(fake_result("tflite_quantize", {}, True, METRICS,
                                               {"int8.latency_1t": a, "fp32.latency_1t": b}))
    quant = result_namespace("quant", result, "r.json")
    template = ("{% if quant.int8.latency_1t is slower_than(quant.fp32.latency_1t) %}slower"
                "{% elif quant.int8.latency_1t is faster_than(quant.fp32.latency_1t) %}faster"
                "{% else %}no measurable difference{% endif %}")
    return fill(template, quant=quant)


def test_speed_comparison_needs_separate_intervals():
    # int8's median is higher, but the 95 % intervals overlap: no claim either way
    assert speed_sentence(timing(0.052, 0.049, 0.055), timing(0.050, 0.047, 0.053)) == "no measurable difference"
    assert speed_sentence(timing(0.060, 0.058, 0.062), timing(0.050, 0.047, 0.053)) == "slower"
    assert speed_sentence(timing(0.030, 0.029, 0.031), timing(0.050, 0.047, 0.053)) == "faster"


def test_speed_comparison_refuses_medians_and_old_results(episode, capsys):
    script, path = episode
    text = script.read_text(encoding="utf-8")
    script.write_text(text.replace("延迟中位数 {{ quant.fp32.latency_1t.median | ms }}。",
                                   "{% if quant.fp32.latency_1t is slower_than(quant.fp32.latency_1t) %}慢{% endif %}"),
                      encoding="utf-8")
    assert cli.main(["validate", str(script)]) == 2
    err = capsys.readouterr().err
    assert "without a confidence interval" in err and "bench" in err and "ep.yaml:" in err
    script.write_text(text.replace("延迟中位数 {{ quant.fp32.latency_1t.median | ms }}。",
                                   "{% if quant.fp32.latency_1t.median is slower_than(quant.fp32.latency_1t) %}慢{% endif %}"),
                      encoding="utf-8")
    assert cli.main(["validate", str(script)]) == 2
    assert "compares two timings" in capsys.readouterr().err


def test_scripts_compare_speeds_only_through_the_helper():
    import re
    raw = re.compile(r"(latency\w*|step)\.median\s*[<>]")
    for script in (ROOT / "scripts").glob("*.yaml"):
        assert not raw.search(script.read_text(encoding="utf-8")), script.name


@pytest.mark.parametrize("overlay,needle", [
    ("{chart: confusion, data: quant, position: right}", "lacks confusion"),
    ("{chart: training_curve, data: quant}", "lacks train.loss, val.loss, val.acc"),
    ("{chart: bar_compare, data: quant, fields: [fp32.step]}", "no field 'fp32.step'"),
    ("{chart: latency, data: quant, fields: [fp32.size_mb]}", "timings there: fp32.latency_1t"),
])
def test_chart_with_nothing_to_draw_is_a_located_error(episode, capsys, overlay, needle):
    script, _ = episode
    text = script.read_text(encoding="utf-8")
    script.write_text(text.replace("{chart: size_vs_accuracy, data: quant, position: right}", overlay), encoding="utf-8")
    assert cli.main(["validate", str(script)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "ep.yaml:" in err and "overlay" in err, err
    assert "Traceback" not in err


def test_a_chart_beside_a_scene_that_fills_the_frame_is_a_located_error(episode, capsys):
    """A chart on the right half over a TitleCard would cover its title."""
    script, _ = episode
    text = script.read_text(encoding="utf-8")
    script.write_text(text.replace("  - id: accuracy\n    scene: titles.Heading", "  - id: accuracy\n    scene: titles.TitleCard"),
                      encoding="utf-8")
    assert cli.main(["validate", str(script)]) == 2
    err = capsys.readouterr().err
    assert "ep.yaml:27:63:" in err and "segments[2].overlay.position" in err and "titles.Heading" in err, err
    assert "Traceback" not in err
    script.write_text(text.replace("position: right}", "position: full}"), encoding="utf-8")
    assert cli.main(["validate", str(script)]) == 0


def test_chart_labels_of_coinciding_points_do_not_overlap(tmp_path):
    """ep01's case: dynamic and int8 both 145 KB at nearly the same accuracy."""
    import matplotlib.pyplot as plt

    from bilicast.charts import illegible_texts, render_chart
    from bilicast.results import Result
    from bilicast.script import Style
    metrics = {"fp32.size_mb": (0.5485, "MB"), "dynamic.size_mb": (0.1449, "MB"), "fp16.size_mb": (0.2781, "MB"),
               "int8.size_mb": (0.1451, "MB"), "fp32.acc": (0.9741, "ratio"), "dynamic.acc": (0.9722, "ratio"),
               "fp16.acc": (0.9741, "ratio"), "int8.acc": (0.9722, "ratio")}
    result = Result.model_validate(fake_result("tflite_quantize", {}, True, metrics))
    for size in ((960, 778), (480, 389)):   # the right-hand panel at 1080p and at preview size
        shown = render_chart("size_vs_accuracy", result, Style(), size, tmp_path / "c.png", video_short_side=size[1] * 1080 // 778)
        assert {text for text, *_ in shown} == {"549 KB", "145 KB", "278 KB"}
    # the checker render_chart runs sees overlaps when there are some
    fig = plt.figure(figsize=(4, 3), dpi=100)
    fig.text(0.5, 0.5, "int8 145 KB")
    fig.text(0.52, 0.5, "dynamic 145 KB")
    fig.text(0.1, 0.1, "far away")
    fig.text(0.9, 0.5, "cut at the edge")
    assert illegible_texts(fig) == ["'cut at the edge' is cut by the chart's edge",
                                    "'int8 145 KB' and 'dynamic 145 KB' overlap"]
    plt.close(fig)


def test_log_lists_the_steps_the_demo_reported(tmp_path):
    from bilicast.measured import progress_lines
    log = tmp_path / "r.log"
    log.write_text("progress: loading digits\nI0000 tensorflow noise\nprogress: converting fp32 \n", encoding="utf-8")
    assert progress_lines(log) == ["loading digits", "converting fp32"]
    assert progress_lines(tmp_path / "imported.log") == []


def test_the_model_that_ran_fills_architecture_and_is_verified(episode, workspace):
    """A demo's recorded Keras model fills model.Architecture whole; its
    parameter counts are shown numbers with a source, checked like the rest."""
    from conftest import DIGITS_CNN

    from bilicast.errors import StageError
    from bilicast.bundle import write_numbers
    from bilicast.episode import load_episode
    from bilicast.render import plan_with_voice
    script, result = episode
    data = json.loads(result.read_text())
    data["models"] = {"digits": {**DIGITS_CNN, "layers": [{"name": f"l{i}", **layer}
                                                          for i, layer in enumerate(DIGITS_CNN["layers"])]}}
    result.write_text(json.dumps(data))
    script.write_text(EPISODE + """\
  - id: model
    scene: model.Architecture
    params: {title: 真正跑的模型, model: "{{ quant.models.digits }}"}
    narration: ["模型一共有{{ quant.models.digits.params | cn }}个参数。"]
""", encoding="utf-8")
    ep = load_episode(script)
    seg = ep.script.segments[-1]
    assert seg.params["model"]["layers"][5] == {"name": "l5", "kind": "Dense", "detail": "64 relu", "output": [64],
                                                "params": 131136.0}
    assert seg.narration[0].text == "模型一共有13.66万个参数。"
    data["models"]["digits"]["layers"][5]["params"] = 99
    result.write_text(json.dumps(data))
    with pytest.raises(StageError) as e:
        write_numbers(plan_with_voice(ep, True)[0], ep, script.parent)
    assert "segments[3].params.model: shows '131136'" in e.value.log
