"""Warm workers and the build server (docs/studio.md): `--executor warm`
draws what `local` draws and sees a scene edited between two renders of one
process; `bilicast render` hands its render to the server running in its
workspace and gets the same bundle, byte for byte, and renders itself when
none runs, when it hangs or when it runs another engine; a client that goes
away stops its render, and a server killed -9 leaves no process behind."""
import json
import os
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, descendants, frame_hashes, gone_within, two_segment_episode, warm_workers

EPISODE = two_segment_episode("studio", "构建服务器")

SCENE = '''\
from bilicast.scenekit import BilicastScene, SceneParams, mn

MARK = "一"


class Marked(BilicastScene):
    class Params(SceneParams):
        word: str

    def build(self):
        self.play(mn.FadeIn(self.label(self.params.word + MARK, size=64)), run_time=0.4)
'''

OWN = """\
episode: {id: own, title: 自己的场景}
segments:
  - {id: m, scene: marked.Marked, params: {word: 场景}, narration: [一句话。]}
"""


def make_workspace(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "scenes").symlink_to(ROOT / "scenes")
    shutil.copytree(ROOT / "assets", path / "assets")
    (path / "ep.yaml").write_text(EPISODE, encoding="utf-8")
    return path


def bilicast(ws: Path, *args, **popen):
    return subprocess.Popen([sys.executable, "-m", "bilicast.cli", *args], cwd=ws, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def finished(proc, timeout: float = 300) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"`bilicast` did not end in {timeout:.0f} s:\n{proc.communicate()[1][-3000:]}")


def bundle(ws: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((ws / "out" / "studio" / "main").iterdir())}


@pytest.fixture
def serve():
    """`python -m bilicast.buildserver_main WS`, returned once it listens (its first line); killed at the end."""
    started = []

    def start(ws: Path, env=None, timeout: float = 120):
        proc = subprocess.Popen([sys.executable, "-m", "bilicast.buildserver_main", str(ws)], cwd=ws, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
        started.append(proc)
        if not select.select([proc.stdout], [], [], timeout)[0] or not proc.stdout.readline().startswith("serving"):
            proc.kill()
            pytest.fail(f"the build server did not listen within {timeout:.0f} s:\n{proc.communicate()[1][-3000:]}")
        return proc
    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def test_warm_workers_draw_what_local_draws_and_read_an_edited_scene_afresh(tmp_path):
    from bilicast.episode import load_episode
    from bilicast.render import render_episode
    videos = {}
    for name in ("local", "warm"):
        ws = tmp_path / name
        (ws / "scenes").mkdir(parents=True)
        (ws / "scenes" / "marked.py").write_text(SCENE, encoding="utf-8")
        (ws / "ep.yaml").write_text(OWN, encoding="utf-8")
        report = render_episode(load_episode(ws / "ep.yaml"), ws / "out", preview=True, executor=name)
        assert report.animated == 1
        videos[name] = frame_hashes(ws / "out/own/main/video.mp4")
    assert videos["warm"] == videos["local"]

    # the same process renders again after the scene changed: its worker reads the new file
    (ws / "scenes" / "marked.py").write_text(SCENE.replace('MARK = "一"', 'MARK = "二三"'), encoding="utf-8")
    report = render_episode(load_episode(ws / "ep.yaml"), ws / "out", preview=True, executor="warm")
    assert report.animated == 1
    assert frame_hashes(ws / "out/own/main/video.mp4") != videos["warm"]


def test_a_render_through_the_server_gives_the_same_bundle_and_says_so(tmp_path, serve):
    ws = make_workspace(tmp_path / "ws")
    server = serve(ws)
    sock = ws / ".cache" / "studio.sock"
    assert stat.S_ISSOCK(sock.stat().st_mode) and stat.S_IMODE(sock.stat().st_mode) == 0o600
    out, err = finished(bilicast(ws, "render", "ep.yaml", "--preview", "--json"))
    assert f"using the studio's warm workers (pid {server.pid})" in err, err
    assert json.loads(out)["rebuilt"] == ["a", "b"]
    through_server = bundle(ws)
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=60) == 0 and not sock.exists()

    # cold again, here: a socket that nobody serves any more is passed by in one line
    shutil.rmtree(ws / "out")
    shutil.rmtree(ws / ".cache")
    sock.parent.mkdir()
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(str(sock))   # bound, never listening: a server that died
    proc = bilicast(ws, "render", "ep.yaml", "--preview", "--json")
    out, err = finished(proc)
    assert proc.returncode == 0 and json.loads(out)["rebuilt"] == ["a", "b"]
    assert "no studio runs there (a stale socket); rendering here" in err and "warm workers" not in err, err
    assert bundle(ws).keys() == through_server.keys()
    assert [name for name, data in bundle(ws).items() if through_server[name] != data] == []


def test_a_server_that_hangs_is_passed_by(tmp_path, serve, pause_at):
    ws = make_workspace(tmp_path / "ws")
    pause = pause_at("studio-hello")
    server = serve(ws, pause.env)
    client = bilicast(ws, "render", "ep.yaml", "--preview")
    pause.reached(client, server)   # the server got the request and does not answer
    out, err = finished(client)
    assert client.returncode == 0 and "no answer within 200 ms; rendering here" in err, err
    assert "warm workers" not in err and (ws / "out/studio/main/video.mp4").exists()


def test_a_server_with_another_engine_is_passed_by(tmp_path, capsys):
    from bilicast.buildserver import BuildServer, render_in_studio
    from bilicast.cli import run
    from bilicast.errors import UserError
    ws = tmp_path
    (ws / "scenes").mkdir()
    server = BuildServer(ws, run)
    server.engine = "0123456789abcdef"   # as if its code were another
    server.start()
    try:
        with pytest.raises(UserError, match="another bilicast studio serves"):
            BuildServer(ws, run).start()
        assert render_in_studio(str(ws / "ep.yaml"), ["render", str(ws / "ep.yaml")]) is None   # render here
        assert "it runs another engine (0123456789abcdef; this one is" in capsys.readouterr().err
        assert server.lock.acquire(blocking=False)   # it started no render
        server.lock.release()
    finally:
        server.stop()
    assert not (ws / ".cache" / "studio.sock").exists()


def test_a_client_that_goes_away_stops_its_render_and_a_killed_server_leaves_nothing(tmp_path, serve, pause_at):
    ws = make_workspace(tmp_path / "ws")
    pause = pause_at("manim")
    server = serve(ws, pause.env)
    first = bilicast(ws, "render", "ep.yaml", "--preview", "-j", "1")
    _, held = pause.reached(first, server)   # a warm worker of the server is inside Manim
    workers = warm_workers(server.pid)
    assert workers
    first.kill()   # as Ctrl-C would, or a closed terminal
    first.communicate()
    held.settimeout(60)
    try:
        assert held.recv(16) == b""   # the held worker is gone: the server stopped the render
    except socket.timeout:
        pytest.fail(f"the server's worker lives on 60 s after its client was killed: {warm_workers(server.pid)}")

    second = bilicast(ws, "render", "ep.yaml", "--preview", "-j", "1")
    pause.reached(second, server)   # the server renders again: the first render has ended, its workers with it
    assert not workers & descendants(server.pid)
    everything = descendants(server.pid) - {server.pid}   # the forkserver, its worker, the resource tracker
    server.kill()
    assert gone_within(everything) == [], "processes left 60 s after the server's kill -9"
    out, err = finished(second)
    assert second.returncode == 0, err
    assert "it stopped before the render ended; rendering here" in err, err
