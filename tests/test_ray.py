"""Segments on a real Ray cluster on loopback (a head and a second node):
the demo episode's video is the local render's, byte for byte; a worker killed mid-job
loses only its job, which runs again; a job whose worker dies twice fails
the render with a clear message; nothing half-written is left in the cache.
A bench matrix measures a demo on each labelled node, and one chart shows
both machines' numbers side by side. Every cluster here, the tests' own and
the one a render starts for itself, listens on loopback only."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, descendants, listening, loopback

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"   # before ray is imported: the test cluster on loopback only
import ray  # noqa: E402  (the `ray` extra is part of `dev`: missing, these tests fail)


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False,
                                                          "object_store_memory": 100 * 2 ** 20,
                                                          "resources": {"bench-first": 1}})
    try:
        nodes.add_node(num_cpus=1, resources={"bench-second": 1}, object_store_memory=100 * 2 ** 20)
        nodes.wait_for_nodes()
        sockets = listening(descendants(os.getpid()))
        assert sockets and all(loopback(address) for address, _ in sockets), sockets
        assert nodes.address.startswith("127.0.0.1:")
        yield nodes.address
    finally:
        nodes.shutdown()


def render(workspace, *extra, env=None, ok=True):
    proc = subprocess.run([sys.executable, "-m", "bilicast.cli", "render", "ep.yaml", "--preview", *extra],
                          capture_output=True, text=True, cwd=workspace, env={**os.environ, **(env or {})})
    assert (proc.returncode == 0) == ok, proc.stderr
    return proc


def segment_hashes(workspace):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in (workspace / ".cache" / "segments").glob("*.mp4")}


def half_written(workspace):
    return [p for p in (workspace / ".cache").rglob("*") if ".tmp" in p.name]


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """The demo episode (music, a crossfade, a slide, measured numbers)
    rendered by the local pool: what the cluster must make."""
    ws = tmp_path_factory.mktemp("local")
    (ws / "scenes").symlink_to(ROOT / "scenes")
    (ws / "demos").symlink_to(ROOT / "demos")
    shutil.copytree(ROOT / "assets", ws / "assets")
    shutil.copy(ROOT / "scripts" / "demo.yaml", ws / "ep.yaml")
    proc = subprocess.run([sys.executable, "-m", "bilicast.cli", "bench", "ep.yaml", "--tiny"], capture_output=True,
                          text=True, cwd=ws)
    assert proc.returncode == 0, proc.stderr
    render(ws)
    return ws


def copy_of(local, target):
    shutil.copytree(local, target, ignore=shutil.ignore_patterns("out", ".cache"), symlinks=True)
    return target


def test_ray_renders_the_local_video_byte_for_byte(cluster, local, tmp_path):
    ws = copy_of(local, tmp_path / "ws")
    proc = render(ws, "--executor", "ray", "--address", cluster, "--json")
    assert json.loads(proc.stdout)["animated"] == 3
    assert segment_hashes(ws) == segment_hashes(local)
    assert (ws / "out/demo/main/video.mp4").read_bytes() == (local / "out/demo/main/video.mp4").read_bytes()
    assert not half_written(ws)


def test_a_killed_worker_loses_only_its_job(cluster, local, tmp_path):
    ws = copy_of(local, tmp_path / "ws")
    marker = tmp_path / "killed"
    render(ws, "--executor", "ray", "--address", cluster,
           env={"BILICAST_KILL_AT": "manim", "BILICAST_KILL_MARKER": str(marker)})
    assert marker.exists()   # a worker was killed (SIGKILL) as Manim began, once
    assert segment_hashes(ws) == segment_hashes(local)
    assert not half_written(ws)


def test_a_job_whose_worker_dies_twice_fails_the_render(cluster, local, tmp_path):
    ws = copy_of(local, tmp_path / "ws")
    proc = render(ws, "--executor", "ray", "--address", cluster, env={"BILICAST_KILL_AT": "manim"}, ok=False)
    assert proc.returncode == 1 and "its Ray worker died 2 times" in proc.stderr and "Traceback" not in proc.stderr
    assert not list((ws / ".cache").glob("segments/*.mp4")) and not half_written(ws)


MATRIX = """\
episode:
  id: matrix
  title: 两台机器
bench:
  quant: {demo: tflite_quantize}
segments:
  - id: latency
    scene: data.BarChart
    params:
      title: 同一个模型，两台机器
      labels: [first, second]
      values: ["{{ quant@first.fp32.latency_1t.median }}", "{{ quant@second.fp32.latency_1t.median }}"]
      texts: ["{{ quant@first.fp32.latency_1t.median | ms }}", "{{ quant@second.fp32.latency_1t.median | ms }}"]
    narration: [同一个模型在两台机器上的延迟。]
"""


def test_a_bench_matrix_measures_on_each_labelled_node_and_one_chart_shows_both(cluster, tmp_path):
    from bilicast.results import read_result
    (tmp_path / "scenes").symlink_to(ROOT / "scenes")
    (tmp_path / "demos").symlink_to(ROOT / "demos")
    (tmp_path / "ep.yaml").write_text(MATRIX, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "bilicast.cli", "bench", "ep.yaml", "--tiny", "--executor", "ray",
                           "--address", cluster, "--on", "first,second"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    measured = {p.stem.split("@")[1]: read_result(p) for p in (tmp_path / "results" / "tflite_quantize").glob("*@*.json")}
    assert set(measured) == {"first", "second"}
    assert {r.provenance.node for r in measured.values()} == {"first", "second"}
    assert all(r.imported_from.startswith("ray node") for r in measured.values())
    render(tmp_path)
    shown = json.loads((tmp_path / "out/matrix/main/numbers.json").read_text(encoding="utf-8"))
    files = {src["file"] for n in shown if n["where"].startswith("segments[0].params") for src in n["sources"]}
    assert {Path(f).stem.split("@")[1] for f in files} == {"first", "second"}   # one chart, both machines
    from bilicast.episode import load_episode
    line = load_episode(tmp_path / "ep.yaml").script.segments[0].params["provenance"]
    assert "first" in line and "second" in line and " / " in line   # where each bar was measured


def test_a_worker_with_another_engine_refuses_the_job():
    """Every node runs its own checkout's engine: one that differs from the
    driver's would render other pictures, so the job fails, naming both."""
    from bilicast import farm
    from bilicast.errors import StageError
    with pytest.raises(StageError, match="another bilicast engine"):
        with farm._on_worker("0" * 16, {}):
            pass
    with farm._on_worker(farm.engine_hash(), {"BILICAST_KILL_AT": "nowhere"}):
        assert os.environ["BILICAST_KILL_AT"] == "nowhere"
    assert "BILICAST_KILL_AT" not in os.environ   # a worker serves other jobs after this one


def interrupted_at_manim(ws, pause_at, *extra):
    """A render stopped while a worker is inside Manim, then Ctrl-C: its exit
    status and stderr, and the processes it had started while it ran."""
    import signal
    pause = pause_at("manim")
    proc = subprocess.Popen([sys.executable, "-m", "bilicast.cli", "render", "ep.yaml", "--preview", "--executor",
                             "ray", *extra], cwd=ws, stderr=subprocess.PIPE, text=True, env={**os.environ, **pause.env})
    pause.reached(proc)   # a segment is being rendered on the cluster now
    started = descendants(proc.pid) - {proc.pid}
    sockets = listening(started | {proc.pid})
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    return proc.returncode, err, started, sockets


def test_ctrl_c_cancels_the_jobs_on_the_cluster(cluster, local, tmp_path, pause_at):
    """Interrupted while the cluster renders: the render exits 130 at once,
    the cluster's CPUs are free again, nothing half-written is cached."""
    import time
    ws = copy_of(local, tmp_path / "ws")
    code, err, _, _ = interrupted_at_manim(ws, pause_at, "--address", cluster)
    assert code == 130 and "interrupted" in err and "Traceback" not in err, err
    ray.init(address=cluster, log_to_driver=False)
    try:
        deadline = time.monotonic() + 60   # cancelling a force-killed task frees its CPU soon after
        while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ray.available_resources().get("CPU", 0) == 2, "the cluster's CPUs stayed busy for 60 s"
    finally:
        ray.shutdown()
    assert not half_written(ws)


def test_a_cluster_the_render_starts_listens_on_loopback_only(local, tmp_path, pause_at):
    """`--executor ray` without `--address`: the one-machine cluster started
    for the render (GCS, raylet, workers) binds 127.0.0.1, seen with `ss
    -ltnp` while a segment renders on it; Ctrl-C ends it, leaving no process."""
    import time
    ws = copy_of(local, tmp_path / "ws")
    env_before = os.environ.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")   # the render must do it itself
    try:
        code, err, started, sockets = interrupted_at_manim(ws, pause_at)
    finally:
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = env_before
    names = {name for _, name in sockets}
    assert {"gcs_server", "raylet"} <= names, sockets
    assert all(loopback(address) for address, _ in sockets), sockets
    assert code == 130, err
    deadline = time.monotonic() + 60
    while any(Path(f"/proc/{pid}").exists() for pid in started) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in started if Path(f"/proc/{pid}").exists()
            and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"]
    assert not left, f"the render's cluster left processes behind: {left}"
