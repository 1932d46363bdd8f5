"""Fault injection, each case a real `bilicast` subprocess: kill -9 in the
middle of every stage of a render, a full disk, a missing ffmpeg, two benches
at once, hostile result files. Afterwards no process of ours is left, no temp
file is left, and a rerun gives the same video as a clean render."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from conftest import ROOT, frame_hashes, two_segment_episode

EPISODE = two_segment_episode("faults", "故障注入")


def make_workspace(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "scenes").symlink_to(ROOT / "scenes")
    shutil.copytree(ROOT / "assets", path / "assets")
    (path / "ep.yaml").write_text(EPISODE, encoding="utf-8")
    return path


def bilicast(ws: Path, *args, env=None, preexec=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "bilicast.cli", *args], capture_output=True, text=True, cwd=ws,
                          env={**os.environ, **(env or {})}, preexec_fn=preexec, timeout=timeout,
                          start_new_session=True)


def ours(tag: str) -> list[str]:
    """Processes whose environment carries this test's tag (the render and
    everything it started: workers, ffmpeg, the resource tracker)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if f"BILICAST_TEST_TAG={tag}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")[:120]
                found.append(f"{proc.name} {cmdline!r}")
        except OSError:
            continue
    return found


def no_orphans(tag: str, wait: float = 30.0) -> list[str]:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not ours(tag):
            return []
        time.sleep(0.2)
    return ours(tag)



def leftovers(ws: Path) -> list[str]:
    tmp = [str(p) for p in ws.rglob("*") if ".tmp" in p.name]
    scratch = ws / ".cache" / "tmp"
    return tmp + ([str(p) for p in scratch.iterdir()] if scratch.exists() else [])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    ws = make_workspace(tmp_path_factory.mktemp("clean"))
    proc = bilicast(ws, "render", "ep.yaml", "--preview")
    assert proc.returncode == 0, proc.stderr
    return frame_hashes(ws / "out" / "faults" / "main" / "video.mp4")


@pytest.mark.parametrize("point", ["tts", "manim", "finish", "audio", "join"])
def test_kill_9_mid_render_then_rerun(tmp_path, reference, point):
    ws = make_workspace(tmp_path / "ws")
    tag = uuid.uuid4().hex
    env = {"BILICAST_KILL_AT": point, "BILICAST_KILL_MARKER": str(tmp_path / "killed"), "BILICAST_TEST_TAG": tag}
    proc = bilicast(ws, "render", "ep.yaml", "--preview", env=env)
    assert proc.returncode == -signal.SIGKILL, f"not killed at {point}: {proc.returncode}\n{proc.stderr[-2000:]}"
    assert no_orphans(tag) == [], "processes left after kill -9"
    proc = bilicast(ws, "render", "ep.yaml", "--preview", env=env)
    assert proc.returncode == 0, proc.stderr
    assert no_orphans(tag) == []
    assert frame_hashes(ws / "out" / "faults" / "main" / "video.mp4") == reference
    assert leftovers(ws) == []


def test_sigterm_stops_workers_at_once(tmp_path, pause_at):
    ws = make_workspace(tmp_path / "ws")
    tag = uuid.uuid4().hex
    pause = pause_at("manim")
    proc = subprocess.Popen([sys.executable, "-m", "bilicast.cli", "render", "ep.yaml"], cwd=ws,
                            env={**os.environ, **pause.env, "BILICAST_TEST_TAG": tag}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    pause.reached(proc)   # a worker is inside Manim (held there): the segments are rendering
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err, err
    assert no_orphans(tag) == []


def test_disk_full_during_segment_write(tmp_path):
    """A file size limit stands in for a full disk: the segment write fails
    with a clear error, and the cache stays valid for the next run."""
    import resource
    ws = make_workspace(tmp_path / "ws")
    assert bilicast(ws, "render", "ep.yaml", "--preview").returncode == 0
    (ws / "ep.yaml").write_text(EPISODE.replace("第一段", "第一部分"), encoding="utf-8")   # segment a only

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # writes fail with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    proc = bilicast(ws, "render", "ep.yaml", "--preview", preexec=small_disk)
    assert proc.returncode == 1, proc.stderr
    assert "disk is full" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    proc = bilicast(ws, "render", "ep.yaml", "--preview")
    assert proc.returncode == 0 and "unreadable" not in proc.stderr, proc.stderr
    assert bilicast(ws, "check", "out/faults").returncode == 0
    assert leftovers(ws) == []


def test_ffmpeg_missing_is_one_clear_line(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    bin_dir = tmp_path / "bin"   # a PATH with what setup installs but ffmpeg and ffprobe
    bin_dir.mkdir()
    for tool in ("espeak-ng", "fc-match", "fc-list"):
        if shutil.which(tool):
            (bin_dir / tool).symlink_to(shutil.which(tool))
    proc = bilicast(ws, "render", "ep.yaml", "--preview", env={"PATH": str(bin_dir)})
    assert proc.returncode == 1, proc.stderr
    assert "ffmpeg not found" in proc.stderr and "apt-get install ffmpeg" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) <= 3, proc.stderr


def test_two_benches_of_one_demo_at_once(tmp_path, pause_at):
    """The first bench is held with the demo's lock taken until the second
    has found it taken: the second waits, then reuses the first's result."""
    ws = tmp_path / "ws"
    ws.mkdir()
    shutil.copytree(ROOT / "demos", ws / "demos")
    (ws / "scenes").symlink_to(ROOT / "scenes")
    cmd = [sys.executable, "-m", "bilicast.cli", "bench", "--demo", "train_curve", "--tiny", "--json"]
    pause = pause_at("bench-locked,bench-waits")
    env = {**os.environ, **pause.env}
    first = subprocess.Popen(cmd, cwd=ws, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    point, holding = pause.reached(first)
    assert point == "bench-locked"
    second = subprocess.Popen(cmd, cwd=ws, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert pause.reached(first, second)[0] == "bench-waits"   # the lock is taken: it waits for the first
    pause.release_all()
    outs = [p.communicate(timeout=600) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outs
    results = list((ws / "results" / "train_curve").glob("*.json"))
    assert len(results) == 1
    json.loads(results[0].read_text("utf-8"))   # whole, not torn
    assert [json.loads(out)[0]["what"] for out, _ in outs] == ["ran", "reused"]


HOSTILE = [
    ("deep", "[" * 100_000, "nested more than"),
    ("huge", None, "too large"),
    ("wrong types", {"metrics": {"fp32.size_mb": {"value": "big", "unit": "MB"}}}, "metrics.fp32.size_mb.value"),
    ("NaN", {"metrics": {"fp32.size_mb": {"value": float("nan"), "unit": "MB"}}}, "metrics.fp32.size_mb.value is NaN"),
    ("infinity", {"metrics": {"fp32.acc": {"value": float("inf"), "unit": "ratio"}}}, "is NaN or infinite"),
    ("negative size", {"metrics": {"fp32.size_mb": {"value": -1.0, "unit": "MB"}}}, "negative"),
    ("wrong unit", {"metrics": {"fp32.size_mb": {"value": 0.5, "unit": "ms"}}}, "measured in 'MB'"),
    ("negative latency", {"timings": {"fp32.latency_1t": {"samples": 5, "warmup": 1, "median": -0.1, "p90": 1,
                                                           "min": 1, "max": 1, "mean": 1, "stdev": 0,
                                                           "threads": 1}}}, "timings.fp32.latency_1t.median"),
]


@pytest.mark.parametrize("name,change,needle", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_result_files_are_refused(tmp_path, name, change, needle):
    ws = tmp_path / "ws"
    ws.mkdir()
    shutil.copytree(ROOT / "demos", ws / "demos")
    (ws / "scenes").symlink_to(ROOT / "scenes")
    good = {"schema": "bilicast.result/1", "demo": "tflite_quantize", "params": {}, "tiny": True,
            "metrics": {"fp32.size_mb": {"value": 0.5, "unit": "MB"}},
            "provenance": {"python": "3.11", "tensorflow": "2.21.0", "keras": "3", "litert": "2.3.0", "numpy": "2",
                           "platform": "linux", "cpu": "x", "cores": 2, "machine": "m", "date": "2026-11-27",
                           "code_hash": "0" * 16, "duration_s": 1.0}}
    path = tmp_path / f"{name}.json"
    if isinstance(change, str):
        path.write_text(change)
    elif change is None:
        path.write_text(json.dumps(good)[:-1] + ', "notes": ["' + "x" * (17 * 2 ** 20) + '"]}')
    else:
        path.write_text(json.dumps({**good, **change}))
    proc = bilicast(ws, "bench", "--import", str(path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert needle in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (ws / "results" / "tflite_quantize").exists() or not list((ws / "results").rglob("*.json"))


def test_an_interrupt_waits_until_the_pool_exists():
    """SIGTERM while the worker pool starts takes effect once it has started
    (then the pool is terminated cleanly), not half way through spawning."""
    from bilicast.lifeline import interrupts_deferred
    before = signal.getsignal(signal.SIGTERM)
    ran = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            ran.append("the rest of the block")
    assert ran == ["the rest of the block"] and signal.getsignal(signal.SIGTERM) is before
