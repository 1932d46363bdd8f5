"""`bilicast studio` as a process (the page itself: tests/test_studio_browser.py):
what it listens on, one render for a burst of saves, a crashing scene shown
and survived, one studio per workspace, and no worker left after Ctrl-C or
kill -9. Real renders (espeak, preview) through the real server."""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import CRASHING_SCENE, ROOT, RunningStudio, descendants, listening, loopback

SCRIPT = """\
episode:
  id: st
  title: 工作室测试
  voice: {mode: tts, backend: espeak}
segments:
  - id: intro
    scene: titles.TitleCard
    params: {title: 边写边看}
    narration: [改一句话，马上就能看到。]
  - id: list
    scene: bullets.Checklist
    params: {title: 要点, items: [保存就重渲染, 只渲染变了的]}
    narration: [只重做变了的部分。]
"""



def ready(generation: int = 1):
    return lambda s: s["status"] == "ready" and s["generation"] >= generation


@pytest.fixture
def studio_ws(tmp_path):
    """A workspace with its own copy of the scenes (a test adds one)."""
    shutil.copytree(ROOT / "scenes", tmp_path / "scenes", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "ep.yaml").write_text(SCRIPT, encoding="utf-8")
    return tmp_path


def test_a_burst_of_saves_is_one_render_and_the_studio_listens_on_loopback(studio_ws):
    studio = RunningStudio(studio_ws)
    try:
        first = studio.wait(ready(), "the first preview")
        sockets = listening(descendants(studio.proc.pid))
        assert sockets and all(loopback(address) for address, _ in sockets), sockets
        script = studio_ws / "ep.yaml"
        for n in range(5):   # five quick saves, as an editor's autosave makes them
            script.write_text(SCRIPT.replace("马上就能看到", f"第{n + 1}次就能看到"), encoding="utf-8")
        done = studio.wait(lambda s: s["status"] == "ready" and s["timeline"]["events"][0]["text"]
                           == "改一句话，第5次就能看到。", "the fifth save's line in the preview")
        assert done["generation"] == first["generation"] + 1, done["log"]
        assert [s["state"] for s in done["segments"]] == ["built", "cached"]   # only the reworded segment
        assert studio.post("/api/render/full", token=False)[0] == 403   # changes need the token, even here
        assert studio.get("/api/state", host="attacker.example:80")[0] == 400   # DNS rebinding
    finally:
        assert studio.stop() in (0, 130)
    assert not (studio_ws / ".cache" / "studio.json").exists()


def test_the_channel_file_is_watched_and_its_errors_shown_in_it(studio_ws):
    """channel.yaml at the workspace root: a wrong value is shown at its own
    line (the last preview stays), and the mended file's watermark reaches
    the preview without rendering the scenes again."""
    (studio_ws / "assets").mkdir()
    shutil.copy(ROOT / "assets" / "channel" / "logo.svg", studio_ws / "assets" / "logo.svg")
    studio = RunningStudio(studio_ws)
    try:
        first = studio.wait(ready(), "the first preview")
        (studio_ws / "channel.yaml").write_text("name: 测试频道\nlogo: assets/logo.svg\nwatermark: {opacity: 2}\n",
                                                encoding="utf-8")
        bad = studio.wait(lambda s: s["status"] == "invalid", "the channel's error")
        problem = bad["error"]["problems"][0]
        assert (problem["file"], problem["line"], problem["where"]) == ("channel.yaml", 3, "watermark.opacity")
        assert any(c["marked"] and "opacity: 2" in c["text"] for c in bad["error"]["context"])
        assert bad["preview"] == first["preview"]   # the last good preview stays
        (studio_ws / "channel.yaml").write_text("name: 测试频道\nlogo: assets/logo.svg\nwatermark: {opacity: 0.5}\n",
                                                encoding="utf-8")
        done = studio.wait(lambda s: s["status"] == "ready" and s["generation"] > first["generation"], "the watermark")
        assert done["timeline"]["watermark"]["opacity"] == 0.5
        assert done["log"][-1].endswith("(intro, list; Manim drew 0)"), done["log"]   # finishing alone
    finally:
        studio.stop()


def test_a_crashing_scene_shows_its_log_and_the_studio_keeps_serving(studio_ws):
    (studio_ws / "scenes" / "boom.py").write_text(CRASHING_SCENE, encoding="utf-8")
    studio = RunningStudio(studio_ws)
    try:
        studio.wait(ready(), "the first preview")
        broken = SCRIPT.replace("scene: bullets.Checklist\n    params: {title: 要点, items: [保存就重渲染, 只渲染变了的]}",
                                "scene: boom.Boom\n    params: {title: 要点}")
        (studio_ws / "ep.yaml").write_text(broken, encoding="utf-8")
        failed = studio.wait(lambda s: s["status"] == "failed", "the crash shown")
        assert failed["error"]["segment"] == "list" and "fell over on purpose" in failed["error"]["log"]
        assert {s["id"]: s["state"] for s in failed["segments"]}["list"] == "failed"
        assert failed["preview"]["video"]   # the last good preview stays
        assert studio.get(failed["preview"]["video"].split("?")[0])[0] == 200
        (studio_ws / "ep.yaml").write_text(SCRIPT, encoding="utf-8")
        studio.wait(lambda s: s["status"] == "ready" and s["generation"] > failed["generation"], "recovered")
    finally:
        studio.stop()


def test_one_studio_per_workspace(studio_ws):
    studio = RunningStudio(studio_ws)
    try:
        second = subprocess.run([sys.executable, "-m", "bilicast.cli", "studio", "ep.yaml", "--port", "0"],
                                cwd=studio_ws, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2, second.stderr
        assert f"a studio already runs for this workspace at {studio.url} (pid {studio.proc.pid})" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        studio.stop()


@pytest.mark.parametrize("how", ["ctrl-c", "kill -9"])
def test_no_worker_is_left_behind(studio_ws, pause_at, how):
    """Stopped while Manim draws a segment in a warm worker."""
    pause = pause_at("manim")
    studio = RunningStudio(studio_ws, env=pause.env)
    pause.reached(studio.proc)
    workers = descendants(studio.proc.pid) - {studio.proc.pid}
    assert workers, "a render in progress has worker processes"
    if how == "ctrl-c":
        studio.proc.send_signal(signal.SIGINT)
    else:
        studio.proc.kill()
    studio.proc.wait(timeout=60)
    deadline = time.monotonic() + 30   # a process's end can't be waited for from outside its family
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") and not _zombie(pid) for pid in workers):
        time.sleep(0.2)
    left = [pid for pid in workers if os.path.exists(f"/proc/{pid}") and not _zombie(pid)]
    assert left == [], f"{how}: workers left: {left}"


def _zombie(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
