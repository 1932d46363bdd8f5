import json
import os
import signal
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bilicast.contracts import SegmentJob
from bilicast.scenekit import SceneRegistry
from bilicast.script import PREVIEW, Style

ROOT = Path(__file__).resolve().parents[1]

# A run started in the background (`make test &`, nohup) inherits SIGINT
# ignored, and so would every render a test starts: the tests that press
# Ctrl-C would wait for nothing. A handler here is reset to the default in
# each child the tests start.
signal.signal(signal.SIGINT, signal.default_int_handler)


def two_segment_episode(episode_id: str, title: str) -> str:
    """A short TTS episode with music: a title card and a checklist."""
    return f"""\
episode:
  id: {episode_id}
  title: {title}
  voice: {{mode: tts}}
  music: {{file: assets/music/soft-pad.ogg, volume: 0.2}}
segments:
  - id: a
    scene: titles.TitleCard
    params: {{title: 第一段}}
    narration: [先把模型导出。, 再转换格式。]
  - id: b
    scene: bullets.Checklist
    params: {{items: [形状, 预处理, 精度]}}
    narration: [上线前检查三件事。]
"""


# A workspace scene that raises in build(): the studio shows its log and keeps serving
CRASHING_SCENE = '''\
from bilicast.scenekit import BilicastScene, SceneParams


class Boom(BilicastScene):
    class Params(SceneParams):
        title: str

    def build(self):
        raise RuntimeError("the scene fell over on purpose")
'''


DEMOS = ["tflite_quantize", "serve_skew", "tf_function", "train_curve", "continuous_training"]


@pytest.fixture(scope="session")
def tiny_workspace(tmp_path_factory):
    """A workspace where every demo has run once for real in --tiny mode
    (shared by the bench tests and the season renders)."""
    import shutil
    import subprocess
    import sys
    ws = tmp_path_factory.mktemp("season")
    (ws / "scenes").symlink_to(ROOT / "scenes")
    shutil.copytree(ROOT / "assets", ws / "assets")   # script paths must resolve inside the workspace
    shutil.copytree(ROOT / "demos", ws / "demos")
    shutil.copytree(ROOT / "scripts", ws / "scripts")
    shutil.copy(ROOT / "channel.yaml", ws / "channel.yaml")   # the season is published under the sample channel
    for demo in DEMOS:
        proc = subprocess.run([sys.executable, "-m", "bilicast.cli", "bench", "--demo", demo, "--tiny"],
                              capture_output=True, text=True, cwd=ws)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return ws


@pytest.fixture
def workspace(tmp_path):
    """A fresh workspace (own cache, own output) using the project's scenes."""
    (tmp_path / "scenes").symlink_to(ROOT / "scenes")
    return tmp_path


def frame_hashes(video) -> list[str]:
    """One MD5 per decoded frame (ffmpeg's framemd5), timestamps left out."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-map", "0:v", "-f", "framemd5", "-"],
                         capture_output=True, text=True, check=True).stdout
    return [line.rsplit(",", 1)[1].strip() for line in out.splitlines() if line and not line.startswith("#")]


def audio_samples(video) -> bytes:
    """The video's audio, decoded to 16-bit samples."""
    return subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-map", "0:a", "-f", "s16le", "-"],
                          capture_output=True, check=True).stdout


def ffprobe(path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                          str(path)], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def top_level_atoms(path) -> list[str]:
    """The MP4's top-level box names in file order."""
    names, data = [], Path(path).read_bytes()
    pos = 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos:pos + 4], "big")
        names.append(data[pos + 4:pos + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[pos + 8:pos + 16], "big")
        if size < 8:
            break
        pos += size
    return names


@pytest.fixture
def engine_copy(tmp_path_factory):
    """A copy of the engine to edit, and the environment that runs it
    (PYTHONPATH first), for tests that change bilicast's own code."""
    import os
    import shutil
    root = tmp_path_factory.mktemp("engine")
    shutil.copytree(ROOT / "bilicast", root / "bilicast", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "templates").symlink_to(ROOT / "templates")
    return root / "bilicast", {**os.environ, "PYTHONPATH": str(root)}


# The small CNN the demos train, as describe_model(small_cnn((32, 32, 1))) records it
DIGITS_CNN = {"input": [32, 32, 1], "params": 136586, "layers": [   # describe_model(small_cnn((32, 32, 1)))
    {"kind": "Conv2D", "detail": "16 3×3 relu", "output": [32, 32, 16], "params": 160},
    {"kind": "MaxPooling2D", "detail": "2×2", "output": [16, 16, 16], "params": 0},
    {"kind": "Conv2D", "detail": "32 3×3 relu", "output": [16, 16, 32], "params": 4640},
    {"kind": "MaxPooling2D", "detail": "2×2", "output": [8, 8, 32], "params": 0},
    {"kind": "Flatten", "output": [2048], "params": 0},
    {"kind": "Dense", "detail": "64 relu", "output": [64], "params": 131136},
    {"kind": "Dense", "detail": "10", "output": [10], "params": 650}]}


class PausePoint:
    """Renders held at fault points (lifeline.fault with BILICAST_PAUSE_AT,
    a comma-separated list): pass `env` to the renders; `reached(proc)`
    returns the next process that got to one, held there until `release`d,
    or fails the test, with the render's output, when none gets there in
    time. A process never released waits until it is killed."""

    def __init__(self, points: str, timeout: float = 300):
        import socket
        import tempfile
        self.folder = tempfile.mkdtemp(prefix="bilicast-pause-")   # short: a Unix socket path has ~100 bytes
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(f"{self.folder}/sock")
        self.server.listen(16)
        self.server.settimeout(timeout)
        self.points, self.timeout, self.held = points.split(","), timeout, []
        self.env = {"BILICAST_PAUSE_AT": points, "BILICAST_PAUSE_SOCKET": f"{self.folder}/sock"}

    def reached(self, *procs) -> tuple[str, object]:
        """(the point, the held connection) of the next arrival."""
        import socket
        conn = None
        try:
            conn, _ = self.server.accept()
            conn.settimeout(self.timeout)
            line = conn.makefile().readline()
        except socket.timeout:
            line = ""
        if not line:
            for proc in procs:
                proc.kill()
            errs = "\n".join((proc.communicate()[1] or "")[-3000:] for proc in procs)
            pytest.fail(f"no render reached {', '.join(self.points)} in {self.timeout:.0f} s:\n{errs}")
        point = line.split()[1]
        assert point in self.points
        self.held.append(conn)
        return point, conn

    def release(self, conn) -> None:
        conn.sendall(b"go\n")
        conn.close()
        self.held.remove(conn)

    def release_all(self) -> None:
        """Release the held processes and, from now on, every arrival at once."""
        import threading
        for conn in list(self.held):
            self.release(conn)

        def serve():
            while True:
                try:
                    conn, _ = self.server.accept()
                    conn.makefile().readline()
                    conn.sendall(b"go\n")
                    conn.close()
                except OSError:   # closed by close()
                    return
        self.server.settimeout(None)
        threading.Thread(target=serve, daemon=True).start()

    def close(self) -> None:
        import shutil
        for conn in self.held:
            conn.close()
        self.server.close()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def pause_at():
    made = []

    def make(points: str, timeout: float = 300) -> PausePoint:
        made.append(PausePoint(points, timeout))
        return made[-1]
    yield make
    for p in made:
        p.close()


def descendants(pid: int) -> set[int]:
    """pid and every process below it (from /proc)."""
    import os
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        found.add(p)
        todo.extend(children.get(p, []))
    return found


def listening(pids: set[int]) -> list[tuple[str, str]]:
    """(local address, process) of every TCP socket the processes listen on, read with `ss -ltnp`."""
    import re
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        fields = line.split()
        for name, pid in re.findall(r'\("([^"]+)",pid=(\d+)', line):
            if int(pid) in pids:
                found.append((fields[3], name))
    return found


def loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "::1", "::ffff:127.0.0.1") or host.startswith("127.")


def write_take(path: Path, seconds: float, rate: int = 44100, channels: int = 1, freq: float = 220.0):
    """A synthetic 'recorded take': a tone with a slow tremolo, like a voice's envelope."""
    t = np.arange(int(seconds * rate)) / rate
    signal = 0.3 * np.sin(2 * np.pi * freq * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    data = (np.repeat(signal[:, None], channels, axis=1) * 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.tobytes())
    return path


# The fast tier (`make check`, `pytest -m "not slow"`) leaves these out: whole
# episodes, the season, the Ray cluster, full-size renders, the demos' suite.
# What stays still touches every engine module (one render of each kind, one
# bench, the recognizer); `make test` runs everything.
SLOW = (
    "test_season.py", "test_ray.py", "test_change_cost.py", "test_bench.py",
    "test_legibility.py::test_scene_is_legible[", "test_faults.py::test_kill_9_mid_render_then_rerun",
    "test_faults.py::test_disk_full_during_segment_write",
    "test_takes.py::test_whole_episode_take_renders_in_step_and_passes_check",
    "test_render.py::test_every_builtin_scene_renders", "test_render.py::test_variants_share_voice_and_audio",
    "test_incremental.py::test_a_reworded_line_reuses_the_animation",
    "test_incremental.py::test_a_changed_subtitle_word_re_encodes_only_the_chunks_under_it",
    "test_incremental.py::test_plan_is_a_dry_run_that_writes_nothing",
    "test_incremental.py::test_plan_and_check_speak_json",
    "test_audio.py::test_a_changed_line_remixes_its_segment_and_matches_a_cold_render",
    "test_resolve.py::test_a_changed_filter_redraws_the_chart_and_passes_verify",
    "test_voice.py::test_check_speech_flags_a_line_that_was_not_said",
    "test_beats.py::test_beats_start_within_one_frame_of_plan[full-60fps]",
    "test_render.py::test_full_spec_render", "test_incremental.py::test_a_changed_engine_function_rebuilds",
    "test_takes.py::test_clean_take_every_line_within_80_ms", "test_takes.py::test_retake_replaces_only_its_line",
    "test_takes.py::test_skipped_line_is_named_by_align_and_render_exit_2",
    "test_takes.py::test_speech_not_in_the_script_is_reported", "test_takes.py::test_line_said_twice_uses_the_last",
    # process lifecycles the fast tier's other studio and build-server tests already start and stop
    "test_buildserver.py::test_a_client_that_goes_away_stops_its_render_and_a_killed_server_leaves_nothing",
    "test_studio.py::test_a_crashing_scene_shows_its_log_and_the_studio_keeps_serving",
    "test_studio.py::test_no_worker_is_left_behind", "test_aigc.py::test_a_recorded_episode_carries_no_labels",
    # a channel's look in every scene and cut (one case stays fast); the densest danmaku-safe layouts
    "test_legibility.py::test_a_channels_look_is_legible_in_every_scene[",
    "test_danmaku.py::test_danmaku_safe_moves_key_text_below_the_band[code-aside",
)
KEPT_FAST = ("test_legibility.py::test_scene_is_legible[title-preview]",
             "test_legibility.py::test_scene_is_legible[bars-8-long-preview]",
             "test_legibility.py::test_a_channels_look_is_legible_in_every_scene[end-card-vertical]")


def pytest_collection_modifyitems(items):
    for item in items:
        node = item.nodeid.split("tests/", 1)[-1]
        if node.startswith(SLOW) and not node.startswith(KEPT_FAST):
            item.add_marker(pytest.mark.slow)


class RunningStudio:
    """`bilicast studio SCRIPT` as a subprocess on a free port, for tests:
    its URL (with the token) from its first line on stdout, its state as
    the page gets it (`wait` reads the Server-Sent Events until a state
    passes a test, or fails the test, with the studio's log, when none does
    in time). stderr goes to a file: nobody has to read it for it to run."""

    def __init__(self, workspace: Path, script: str = "ep.yaml", *extra: str, env=None, timeout: float = 120):
        import os
        import queue
        import sys
        import threading
        self.workspace, self.log = Path(workspace), Path(workspace) / "studio.log"
        self.err = open(self.log, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "bilicast.cli", "studio", script, "--port", "0", *extra],
                                     cwd=workspace, stdout=subprocess.PIPE, stderr=self.err, text=True,
                                     env={**os.environ, **(env or {})})
        lines: queue.Queue = queue.Queue()

        def drain():
            for line in self.proc.stdout:
                lines.put(line)
            lines.put("")
        threading.Thread(target=drain, daemon=True).start()
        try:
            first = lines.get(timeout=timeout)
        except queue.Empty:
            first = ""
        if not first.startswith("studio: http://"):
            self.fail(f"the studio printed no URL in {timeout:.0f} s (got {first!r})")
        self.url = first.split()[1]
        self.base, self.token = self.url.split("/?token=")

    def fail(self, why: str):
        self.proc.kill()
        self.proc.wait()
        pytest.fail(f"{why}\n--- studio log ---\n{self.log.read_text()[-4000:]}")

    def get(self, path: str, token: bool = False, host: str | None = None) -> tuple[int, bytes]:
        import urllib.error
        import urllib.request
        url = self.base + path + (("&" if "?" in path else "?") + f"token={self.token}" if token else "")
        request = urllib.request.Request(url, headers={"Host": host} if host else {})
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def post(self, path: str, token: bool = True) -> tuple[int, dict]:
        import urllib.error
        import urllib.request
        request = urllib.request.Request(self.base + path, data=b"", method="POST",
                                         headers={"X-Studio-Token": self.token} if token else {})
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def state(self) -> dict:
        return json.loads(self.get("/api/state")[1])

    def wait(self, passes, what: str, timeout: float = 180) -> dict:
        """The first state (from the event stream) that passes."""
        import time
        import urllib.request
        deadline = time.monotonic() + timeout
        last = None
        with urllib.request.urlopen(f"{self.base}/api/events?token={self.token}", timeout=30) as stream:
            for raw in stream:
                line = raw.decode("utf-8").rstrip("\n")
                if line.startswith("data: "):
                    last = json.loads(line[6:])
                    if passes(last):
                        return last
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    break
        self.fail(f"the studio never got to: {what} (last state: {json.dumps(last, ensure_ascii=False)[:1500]})")

    def stop(self) -> int:
        import signal
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.fail("the studio did not stop within 60 s of Ctrl-C")
        self.err.close()
        return self.proc.returncode


def gone_within(pids, seconds: float = 60) -> list[int]:
    """Of these processes, those still running after `seconds`: each is
    waited on with a pidfd, readable once it has exited (no polling)."""
    import os
    import select
    import time
    deadline, left = time.monotonic() + seconds, []
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                left.append(pid)
        finally:
            os.close(fd)
    return left


def warm_workers(pid: int) -> set[int]:
    """The warm executor's workers (executors/warm.py) of process pid, and
    what they run: everything below its forkserver, the child that runs
    multiprocessing.forkserver (its workers, forked from it, read alike)."""
    found = set()
    for child in descendants(pid) - {pid}:
        try:
            ppid = int(Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[1])
            forkserver = b"multiprocessing.forkserver" in Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if ppid == pid and forkserver:
            found |= descendants(child) - {child}
    return found


# ---- scene cases: the legibility, danmaku and brand tests and tools/scene_gallery.py share them ----

PROVENANCE = "实测：AMD EPYC · 1–2 线程 · TF 2.21 · 2026-11-27"
CONFUSION = [[26, 0, 0, 0, 1, 0, 0, 0, 0, 0], [0, 22, 1, 0, 0, 0, 0, 0, 4, 0], [0, 0, 25, 1, 0, 0, 0, 0, 0, 0],
             [0, 0, 0, 24, 0, 1, 0, 0, 2, 0], [0, 1, 0, 0, 26, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 25, 1, 0, 0, 1],
             [0, 0, 0, 0, 0, 0, 27, 0, 0, 0], [0, 0, 0, 0, 1, 0, 0, 25, 0, 1], [0, 3, 0, 1, 0, 0, 0, 0, 21, 1],
             [0, 0, 0, 1, 0, 1, 0, 0, 1, 24]]
CASES = {
    "title": ("titles.TitleCard", {"kicker": "TensorFlow 实战", "title": "三步把Keras模型塞进手机", "subtitle": "训练 · 转换 · 量化"}),
    "title-long": ("titles.TitleCard", {"kicker": "下期预告", "title": "下期：准确率95%的陷阱，到底藏在预处理的哪一步里",
                                        "subtitle": "训练和上线的预处理不一致会怎样坑你，以及怎么在上线之前就把它查出来"}),
    "heading": ("titles.Heading", {"title": "体积和精度", "note": "每个点是一种格式"}),
    "flow": ("pipeline.Flow", {"title": "从Keras到手机App", "steps": ["训练Keras模型", "导出SavedModel", "转成TFLite",
                                                              "int8量化", "放进App"]}),
    "flow-10-steps": ("pipeline.Flow", {"title": "一条很长的流水线", "steps": [f"第{i}步：处理数据" for i in range(1, 11)]}),
    "checklist": ("bullets.Checklist", {"title": "上线前检查", "items": ["输入shape和训练时一致", "量化后重新测精度"]}),
    "checklist-7-long": ("bullets.Checklist", {"title": "上线前检查", "items": [
        "输入的形状要和训练时完全一样，不然加载模型时直接报错"] * 7}),
    "bars": ("data.BarChart", {"title": "同一个模型，四种格式", "labels": ["float32", "动态范围", "float16", "int8"],
                               "values": [0.55, 0.14, 0.28, 0.14], "texts": ["551 KB", "145 KB", "279 KB", "145 KB"],
                               "provenance": PROVENANCE}),
    "bars-8-long": ("data.BarChart", {"title": "八种格式", "labels": ["一个很长很长的格式名字"] * 8,
                                      "values": [1, 2, 3, 4, 5, 6, 7, 8], "provenance": PROVENANCE}),
    "bars-12": ("data.BarChart", {"title": "十二种格式", "labels": [f"格式{i}" for i in range(1, 13)],
                                  "values": [0.0384 + i / 100 for i in range(12)], "texts": [f"{0.0384 + i / 100:.4f} ms" for i in range(12)],
                                  "provenance": PROVENANCE}),
    "counter": ("data.Counter", {"label": "本机训练耗时", "value": 12.3, "text": "12.3 秒", "caption": "测试集准确率 96.7%",
                                 "provenance": PROVENANCE}),
    "before-after": ("data.BeforeAfter", {"title": "float32 对比 int8", "before_label": "float32", "after_label": "int8",
                                          "before": 0.55, "after": 0.14, "before_text": "551 KB", "after_text": "145 KB",
                                          "caption": "缩小到 1/3.8", "provenance": PROVENANCE}),
    "table": ("data.Table", {"title": "四种格式一览", "columns": ["格式", "体积", "准确率", "单线程延迟"],
                             "rows": [["float32", "551 KB", "96.7%", "0.0388 ms"], ["动态范围", "145 KB", "96.7%", "0.0170 ms"],
                                      ["float16", "279 KB", "96.7%", "0.0386 ms"], ["int8", "145 KB", "96.7%", "0.0182 ms"]],
                             "highlight": 4, "provenance": PROVENANCE}),
    "table-8-long": ("data.Table", {"title": "很多行的表格", "columns": ["一个很长的列名字", "体积", "准确率", "延迟", "备注说明"],
                                    "rows": [[f"第{i}种很长的格式名字", "551 KB", "96.7%", "0.0388 ms", "训练和上线一致"]
                                             for i in range(1, 9)]}),
    "branch": ("pipeline.Branch", {"title": "训练和上线，差在哪一步", "shared": ["读取图片"],
                                   "upper_label": "训练", "upper": ["双线性缩放", "减均值除方差", "RGB"],
                                   "lower_label": "上线", "lower": ["最近邻缩放", "减均值除方差", "BGR"]}),
    "branch-long": ("pipeline.Branch", {"shared": ["读取一张很大的原始图片", "解码成张量"],
                                        "upper_label": "训练时的预处理", "upper": ["用双线性插值缩放到固定大小", "减去均值再除以方差", "通道顺序RGB", "转换成float32"],
                                        "lower_label": "上线时的预处理", "lower": ["用最近邻插值缩放", "减去均值再除以方差", "通道顺序BGR", "转换成float32"]}),
    "code": ("code.Walkthrough", {"title": "转换和量化的代码", "file": "demos/tflite_quantize.py", "function": "convert",
                                  "highlights": ["29", "30-33", "34-38"]}),
    "code-aside": ("code.Walkthrough", {"title": "同一个训练步骤，三种跑法", "file": "demos/tf_function.py",
                                        "lines": "40-56", "highlights": ["40-45", "54", "55-56"],
                                        "aside_title": "单步耗时（中位数）", "aside_labels": ["Eager", "tf.function", "反复重编译"],
                                        "aside_texts": ["5.71 ms", "2.08 ms", "41.9 ms"], "provenance": PROVENANCE}),
    "code-long": ("code.Walkthrough", {"file": "demos/tflite_quantize.py", "lines": "95-146",
                                       "highlights": ["95-97", "135-140"]}),
    "terminal": ("terminal.Session", {"title": "实测就是跑一遍", "command": "bilicast bench scripts/ep01-keras-to-phone.yaml",
                                      "output": ["loading digits and training the CNN", "converting and measuring fp32",
                                                 "converting and measuring int8",
                                                 "timing 12 variants, interleaved, process 1/3 " + "x" * 80]}),
    "numberline": ("quant.NumberLine", {"title": "float32 落到 int8 的格子上", "scale": 0.003921568859368563,
                                        "zero_point": -128, "values": [0.0, 0.2588, 0.5176, 0.7529, 1.0],
                                        "provenance": PROVENANCE}),
    "curve": ("data.Curve", {"title": "热启动重训的loss", "values": [0.9, 0.5, 0.33, 0.25, 0.2, 0.18, 0.15, 0.14],
                             "name": "训练loss", "second": [1.0, 0.6, 0.4, 0.35, 0.3, 0.3, 0.29, 0.28],
                             "second_name": "验证loss", "y_label": "loss", "provenance": PROVENANCE}),
    "bars-ci": ("data.BarChart", {"title": "单线程延迟（95%区间）", "labels": ["float32", "动态范围", "float16", "int8"],
                                  "values": [0.0386, 0.0169, 0.0387, 0.0181], "low": [0.0381, 0.0166, 0.0383, 0.0179],
                                  "high": [0.0392, 0.0173, 0.0391, 0.0184], "caption": "误差线是中位数的95%置信区间",
                                  "texts": ["0.0386 ms", "0.0169 ms", "0.0387 ms", "0.0181 ms"],
                                  "provenance": PROVENANCE}),
    "scatter": ("data.Scatter", {"title": "体积和精度", "labels": ["float32 551 KB", "动态范围 145 KB", "float16 279 KB",
                                                                 "int8 145 KB"],
                                 "xs": [551, 145, 279, 145], "ys": [96.7, 96.7, 96.5, 96.7], "x_label": "体积",
                                 "y_label": "准确率", "x_unit": " KB", "y_unit": "%", "provenance": PROVENANCE}),
    "scatter-8-long": ("data.Scatter", {"labels": [f"第{i}种很长的格式名字" for i in range(8)],
                                        "xs": [1, 1, 1, 2, 2, 3, 3, 3], "ys": [1, 1, 2, 2, 2, 3, 3, 1]}),
    "heatmap": ("data.Heatmap", {"title": "新数据上，哪些数字被认错", "matrix": CONFUSION, "provenance": PROVENANCE,
                                 "caption": "行是真实数字，列是模型的回答"}),
    "heatmap-12-long": ("data.Heatmap", {"matrix": [[(i * 7 + j * 3) % 40 for j in range(12)] for i in range(12)],
                                         "labels": [f"类别{i}" for i in range(12)], "caption": "很长的说明文字" * 4}),
    "architecture": ("model.Architecture", {"title": "这次真正跑的模型", "provenance": PROVENANCE, "model": DIGITS_CNN}),
    "architecture-10": ("model.Architecture", {"model": {"input": [224, 224, 3], "params": 2257984, "layers": [
        {"kind": "Conv2D", "detail": "32 3×3", "output": [112, 112, 32], "params": 864},
        {"kind": "BatchNormalization", "output": [112, 112, 32], "params": 128},
        {"kind": "ReLU", "output": [112, 112, 32], "params": 0},
        {"kind": "DepthwiseConv2D", "detail": "3×3", "output": [112, 112, 32], "params": 288},
        {"kind": "BatchNormalization", "output": [112, 112, 32], "params": 128},
        {"kind": "Conv2D", "detail": "1280 1×1", "output": [7, 7, 1280], "params": 409600},
        {"kind": "GlobalAveragePooling2D", "output": [1280], "params": 0},
        {"kind": "Dropout", "detail": "rate 0.2", "output": [1280], "params": 0},
        {"kind": "Dense", "detail": "1000 softmax", "output": [1000], "params": 1281000},
        {"kind": "Activation", "output": [1000], "params": 0}]}}),
}


def job(name, params, width, height, fps, variant="main"):
    """A segment job for render_scene alone: what it doesn't read (key,
    cache paths, subtitles) left empty."""
    scenes = SceneRegistry(ROOT)
    cls = scenes.get(name)
    beats = cls.beat_count(cls.Params.model_validate(params))
    duration = 1.0 + 0.5 * beats
    return SegmentJob(
        segment="t", scene_name=name, scene_file=str(scenes.source_file(name)), scene_class=name.split(".")[1],
        params=params, style=Style().model_dump(),
        timing={"duration": duration, "lines": [],
                "beats": {str(k): [0.6 + 0.5 * (k - 1), 0.4] for k in range(1, beats + 1)}},
        frames=round(duration * fps), width=width, height=height, fps=fps, preview=False, variant=variant,
        overlay=None, chart=None, burn_in=None,
        files={name: str(ROOT / name) for name in cls.reads_files(cls.Params.model_validate(params))},
        key="", slug="t", components={}, target="", raw="", scratch="", chunks="", manifest="")


FRAMES = Path(__file__).parent / "frames"
FRAME_SIZE = (96, 54)
TOLERANCE = 6.0   # mean absolute difference, 0..255 grey levels, of the small frames


def last_frame(movie, size=FRAME_SIZE) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-sseof", "-0.2", "-i", str(movie), "-vf",
                          f"scale={size[0]}:{size[1]}:flags=area,format=gray", "-frames:v", "1", "-f", "rawvideo", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(size[1], size[0])


def compare_reference_frame(movie, case, size=FRAME_SIZE):
    """Manim's graphical-unit style: the scene's last frame, made small, against
    the stored one (BILICAST_UPDATE_FRAMES=1 stores it anew after a wanted change)."""
    frame = last_frame(movie, size)
    stored = FRAMES / f"{case}.png"
    if os.environ.get("BILICAST_UPDATE_FRAMES") == "1" or not stored.exists():
        FRAMES.mkdir(exist_ok=True)
        Image.fromarray(frame).save(stored)
        if os.environ.get("BILICAST_UPDATE_FRAMES") != "1":
            pytest.fail(f"no reference frame for {case}: stored one at {stored}; check it and commit it")
        return
    reference = np.asarray(Image.open(stored).convert("L"), dtype=float)
    difference = np.abs(frame.astype(float) - reference).mean()
    assert difference <= TOLERANCE, f"{case}: last frame differs from {stored.name} by {difference:.1f} grey levels"


LOGO = "assets/channel/logo.svg"
BRAND = {   # the sample channel's opening and end card
    "opening": ("brand.Opening", {"name": "TF实战小课", "logo": LOGO, "tagline": "每期一个真的会跑的 TensorFlow 实战"}),
    "end-card": ("brand.EndCard", {"name": "TF实战小课", "logo": LOGO, "prompt": "一键三连 · 关注不迷路",
                                   "next": "训练和上线的预处理不一致"}),
}
LOGO_BLUE = (0x00, 0xA1, 0xD6)   # the sample logo's square
ACCENT = "#e0a030"                # the style's accent in these renders: not the logo's blue
OPENING = ("brand.Opening", {"name": "TF实验室", "logo": LOGO, "tagline": "把模型跑在你的手机上"})
END_CARD = ("brand.EndCard", {"name": "TF实验室", "logo": LOGO, "prompt": "一键三连 · 关注不迷路",
                              "next": "准确率95%的陷阱，藏在预处理的哪一步里"})
CUTS = {"main": (PREVIEW["width"], PREVIEW["height"]), "vertical": (PREVIEW["height"], PREVIEW["width"])}


def brand_job(name, params, variant="main", layout="standard", files=None, accent=ACCENT) -> SegmentJob:
    """A segment job for render_scene alone (what it doesn't read left empty)."""
    scenes = SceneRegistry(ROOT)
    cls = scenes.get(name)
    width, height = CUTS[variant]
    style = {**Style().model_dump(), "layout": layout, "accent": accent}
    files = files if files is not None else {
        n: str(ROOT / n) for n in cls.reads_files(cls.Params.model_validate(params))}
    return SegmentJob(
        segment="brand", scene_name=name, scene_file=str(scenes.source_file(name)), scene_class=name.split(".")[1],
        params=params, style=style, timing={"duration": 3.0, "lines": [], "beats": {}},
        frames=3 * PREVIEW["fps"], width=width, height=height, fps=PREVIEW["fps"], preview=True, variant=variant,
        overlay=None, chart=None, burn_in=None, files=files, key="", slug="brand", components={}, target="", raw="",
        scratch="", chunks="", manifest="")
