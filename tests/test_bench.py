"""The demos, run for real in --tiny mode, checked for physical sense (not fixed values),
and the bench runner's reuse, crash and import rules."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bilicast.results import read_result
from conftest import DEMOS


def bench(workspace, *args):
    return subprocess.run([sys.executable, "-m", "bilicast.cli", "bench", *args], capture_output=True,
                          text=True, cwd=workspace)


@pytest.fixture(scope="module")
def bench_workspace(tiny_workspace, tmp_path_factory):
    """A copy of the shared tiny workspace: these tests edit demos and results."""
    ws = tmp_path_factory.mktemp("bench")
    shutil.copytree(tiny_workspace, ws, dirs_exist_ok=True, symlinks=True, ignore=shutil.ignore_patterns("out", ".cache"))
    return ws


@pytest.fixture(scope="module")
def results(bench_workspace):
    """Each demo's tiny result, measured once through the CLI (see conftest.tiny_workspace)."""
    out = {}
    for demo in DEMOS:
        (path,) = (bench_workspace / "results" / demo).glob("*-tiny.json")
        out[demo] = read_result(path)
    return out


def value(result, name):
    return result.metrics[name].value


def check_timing(t, tiny=True, processes=1):
    assert 0 < t.min <= t.median <= t.p90 <= t.max
    assert t.samples >= (10 if tiny else 50) * processes and t.warmup >= 1
    assert t.ci_low <= t.median <= t.ci_high and t.processes == processes


def test_provenance_complete(results):
    for result in results.values():
        p = result.provenance
        assert p.tensorflow.startswith("2.") and p.keras.startswith("3.") and p.litert != "not installed"
        assert p.cpu and p.cores >= 1 and p.date.startswith("20") and len(p.code_hash) == 64
        assert result.tiny


def test_tflite_quantize_makes_physical_sense(results):
    r = results["tflite_quantize"]
    assert value(r, "fp32.size_mb") / value(r, "int8.size_mb") >= 3
    assert value(r, "fp16.size_mb") < value(r, "fp32.size_mb")
    for variant in ("fp32", "dynamic", "fp16", "int8"):
        assert 0.2 < value(r, f"{variant}.acc") <= 1   # above chance (0.1) after training
        for threads in ("1t", "all"):
            t = r.timings[f"{variant}.latency_{threads}"]
            check_timing(t, processes=3)
            assert t.init_ms > 0 and t.interleaved and len(t.process_medians) == 3
            assert t.median == sorted(t.process_medians)[1]   # the median of the process medians
            # a sample is a batch of invokes meant to last ~1.5 ms; the batch is sized from a first
            # estimate, which a busy machine can make several times too slow (seen: 0.49 ms)
            assert t.batch > 1 and t.batch * t.min >= 0.2
            assert value(r, f"{variant}.fps_{threads}") == pytest.approx(1000 / t.median)
    assert value(r, "mobilenet.fp32.size_mb") / value(r, "mobilenet.int8.size_mb") >= 3
    # the int8 input's quantization, read back from the file: 0..1 pixels onto -128..127
    assert value(r, "int8.input.scale") == pytest.approx(1 / 255, rel=0.05)
    assert value(r, "int8.input.zero_point") == -128
    sample = r.series["int8.input.sample"]
    assert len(sample) == 5 and sample == sorted(sample) and 0 <= sample[0] < sample[-1] <= 1
    int8, fp32 = r.timings["int8.latency_1t"], r.timings["fp32.latency_1t"]
    assert (int8.ci_low > fp32.ci_high) == any(n.startswith("int8 is slower") for n in r.notes)


def test_serve_skew_mismatch_scores_lower(results):
    r = results["serve_skew"]
    consistent = value(r, "consistent.acc")
    assert 0.2 < consistent <= 1
    assert value(r, "opencv_style.acc") < consistent
    assert value(r, "worst.drop") > 0


def test_tf_function_graph_beats_eager_and_retracing_hurts(results):
    r = results["tf_function"]
    for mode in ("eager", "graph", "retrace"):
        check_timing(r.timings[f"{mode}.step"])
    assert r.timings["graph.step"].median < r.timings["eager.step"].median
    assert value(r, "retrace.traces") > value(r, "graph.traces")


def test_train_curve_series_and_tensorboard(results):
    r = results["train_curve"]
    epochs = r.params["epochs"]
    assert len(r.series["train.loss"]) == len(r.series["val.acc"]) == len(r.series["epoch.seconds"]) == epochs
    assert r.series["train.loss"][-1] < r.series["train.loss"][0]
    confusion = r.series["confusion"]
    assert len(confusion) == 10 and sum(map(sum, confusion)) > 0
    assert 0.2 < value(r, "test.acc") <= 1
    logs = r.artifacts["tensorboard"]
    assert any(p.name.startswith("events.out.tfevents") for p in __import__("pathlib").Path(logs).rglob("*"))


def test_continuous_training_pipeline_decides_from_measurements(results):
    r = results["continuous_training"]
    threshold, margin, tolerance = (value(r, n) for n in ("drift.threshold", "evaluator.margin", "evaluator.tolerance"))
    assert value(r, "reference.drift.score") < value(r, "small.drift.score") < value(r, "large.drift.score")
    assert value(r, "large.drift.detected") == 1 and value(r, "reference.drift.score") < threshold
    # the large shift really hurts the model in service
    assert value(r, "large.old_on_new.acc") < value(r, "large.old_on_old.acc") - 0.05
    for shift in ("large", "small"):
        assert value(r, f"{shift}.drift.detected") == (value(r, f"{shift}.drift.score") > threshold)
        gain = value(r, f"{shift}.new_on_mix.acc") - value(r, f"{shift}.old_on_mix.acc")
        regress = value(r, f"{shift}.new_on_old.acc") - value(r, f"{shift}.old_on_old.acc")
        blessed = gain >= margin and regress >= -tolerance
        assert value(r, f"{shift}.blessed") == blessed
        pushed = r.artifacts.get(f"{shift}.pushed")
        assert bool(pushed) == blessed and (f"{shift}.push.size_mb" in r.metrics) == blessed
        if pushed:
            assert (Path(pushed) / "model.tflite").stat().st_size > 1000
            assert (Path(pushed) / "saved_model" / "saved_model.pb").exists()
        assert len(r.series[f"{shift}.train.loss"]) == r.params["retrain_epochs"]


def test_result_is_reused_until_params_change(bench_workspace, results):
    proc = bench(bench_workspace, "--demo", "train_curve", "--tiny")
    assert proc.returncode == 0 and "(reused)" in proc.stdout, proc.stdout + proc.stderr


def test_crashed_demo_keeps_previous_result(bench_workspace, results):
    (path,) = (bench_workspace / "results" / "train_curve").glob("*-tiny.json")
    before = path.read_bytes()
    demo = bench_workspace / "demos" / "train_curve.py"
    original = demo.read_text()
    demo.write_text(original.replace("    seconds = []\n", "    raise RuntimeError('boom in the demo')\n"))
    try:
        proc = bench(bench_workspace, "--demo", "train_curve", "--tiny")
    finally:
        demo.write_text(original)
    assert proc.returncode == 1
    assert "boom in the demo" in proc.stderr and "previous result" in proc.stderr
    assert path.read_bytes() == before


def test_import_accepts_a_valid_foreign_result(bench_workspace, results, tmp_path):
    (path,) = (bench_workspace / "results" / "serve_skew").glob("*-tiny.json")
    data = json.loads(path.read_text())
    data["provenance"]["accelerator"] = "NVIDIA H100"
    data["provenance"]["machine"] = "gpu-box"
    foreign = tmp_path / "from-gpu.json"
    foreign.write_text(json.dumps(data))
    proc = bench(bench_workspace, "--import", str(foreign))
    assert proc.returncode == 0, proc.stderr
    imported = read_result(path)
    assert imported.provenance.accelerator == "NVIDIA H100" and imported.imported_from
    # An imported result is reused even though it was measured elsewhere.
    proc = bench(bench_workspace, "--demo", "serve_skew", "--tiny")
    assert "(reused)" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("content,needle", [
    ("{not json", "not valid JSON"),
    ('{"schema": "someone-else/2"}', "not a bilicast result"),
    ('{"schema": "bilicast.result/1", "demo": "serve_skew"}', "does not match schema"),
    ("[1, 2]", "not a bilicast result"),
])
def test_import_rejects_corrupt_or_foreign_files(bench_workspace, tmp_path, content, needle):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    proc = bench(bench_workspace, "--import", str(bad))
    assert proc.returncode == 2
    assert needle in proc.stderr and str(bad) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_demo_is_a_clear_error(bench_workspace):
    proc = bench(bench_workspace, "--demo", "nope")
    assert proc.returncode == 2 and "unknown demo 'nope'" in proc.stderr


def test_bench_script_runs_the_episodes_demos(bench_workspace, results):
    script = bench_workspace / "ep.yaml"
    script.write_text("episode: {id: ep, title: 测试}\n"
                      "bench:\n  skew: {demo: serve_skew}\n  curve: {demo: train_curve}\n"
                      "segments:\n  - {id: a, scene: titles.TitleCard, params: {title: 你好}, narration: [一句]}\n",
                      encoding="utf-8")
    proc = bench(bench_workspace, str(script), "--tiny")
    assert proc.returncode == 0, proc.stderr
    assert "== skew: serve_skew (reused)" in proc.stdout and "== curve: train_curve (reused)" in proc.stdout


def test_bench_json_lists_the_results(bench_workspace, results):
    proc = subprocess.run([sys.executable, "-m", "bilicast.cli", "bench", "--demo", "tf_function", "--tiny", "--json"],
                          capture_output=True, text=True, cwd=bench_workspace)
    assert proc.returncode == 0, proc.stderr
    (entry,) = json.loads(proc.stdout)   # progress stays on stderr
    assert entry["demo"] == "tf_function" and entry["result"]["schema"] == "bilicast.result/1"
    assert entry["result"]["timings"]["graph.step"]["median"] > 0


def test_bench_script_with_bad_demo_params_is_located(bench_workspace, tmp_path):
    script = bench_workspace / "bad.yaml"
    script.write_text("episode: {id: ep, title: 测试}\n"
                      "bench:\n  skew: {demo: serve_skew, params: {epoch: 3}}\n"
                      "segments:\n  - {id: a, scene: titles.TitleCard, params: {title: 你好}, narration: [一句]}\n",
                      encoding="utf-8")
    proc = bench(bench_workspace, str(script), "--tiny")
    assert proc.returncode == 2
    assert f"{script}:3:" in proc.stderr and "did you mean 'epochs'" in proc.stderr
