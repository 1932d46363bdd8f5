"""The demo episode after each kind of small change (a result number, a
reworded line, one word of a subtitle): the warm re-render rebuilds only what
the change touches, and its video is what a cold render of the changed
script makes, every frame (framemd5) and every audio sample."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, audio_samples, frame_hashes


def cli(workspace, *args):
    proc = subprocess.run([sys.executable, "-m", "bilicast.cli", *args], capture_output=True, text=True,
                          cwd=workspace)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def rebuilt(workspace, command="render") -> tuple[list[str], int]:
    """A warm render's report: the segments it rebuilt, and how many Manim animated."""
    report = json.loads(cli(workspace, command, "ep.yaml", "--preview", "--json"))
    return report["rebuilt"], report["animated"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    ws = tmp_path_factory.mktemp("demo")
    (ws / "scenes").symlink_to(ROOT / "scenes")
    (ws / "demos").symlink_to(ROOT / "demos")
    shutil.copytree(ROOT / "assets", ws / "assets")
    shutil.copy(ROOT / "scripts" / "demo.yaml", ws / "ep.yaml")
    cli(ws, "bench", "ep.yaml", "--tiny")
    cli(ws, "render", "ep.yaml", "--preview")
    return ws


def change_number(ws: Path) -> None:
    result = next((ws / "results" / "tflite_quantize").glob("*-tiny.json"))
    data = json.loads(result.read_text(encoding="utf-8"))
    data["metrics"]["int8.size_mb"]["value"] *= 1.1
    result.write_text(json.dumps(data), encoding="utf-8")


def change_text(old: str, new: str):
    def change(ws: Path) -> None:
        script = (ws / "ep.yaml").read_text(encoding="utf-8")
        assert old in script
        (ws / "ep.yaml").write_text(script.replace(old, new), encoding="utf-8")
    return change


CHANGES = [   # what changes, and what the warm render rebuilds
    ("a result number", change_number, (["sizes"], 1)),
    ("a reworded line", change_text("最后做一次int8量化。", "最后再做一次int8量化。"), (["steps"], 0)),
    ("a subtitle word", change_text("再转成TFLite。", "再转成TFlite。"), (["steps"], 0)),   # said alike: same voice
]


@pytest.mark.parametrize("name,change,expected", CHANGES, ids=[c[0] for c in CHANGES])
def test_a_changed_demo_renders_what_a_cold_render_makes(demo, tmp_path, name, change, expected):
    change(demo)
    assert rebuilt(demo) == expected
    cold = tmp_path / "cold"
    shutil.copytree(demo, cold, ignore=shutil.ignore_patterns("out", ".cache"), symlinks=True)
    cli(cold, "render", "ep.yaml", "--preview")
    warm_video, cold_video = demo / "out/demo/main/video.mp4", cold / "out/demo/main/video.mp4"
    assert frame_hashes(warm_video) == frame_hashes(cold_video)
    assert audio_samples(warm_video) == audio_samples(cold_video)


def test_overlays_rebuilds_only_the_segments_that_show_a_changed_number(demo):
    """`bilicast overlays` (the README's "regenerate benchmark overlays"):
    after a re-measured number, only the segment showing it; then nothing."""
    change_number(demo)
    proc = subprocess.run([sys.executable, "-m", "bilicast.cli", "overlays", "ep.yaml", "--preview"],
                          capture_output=True, text=True, cwd=demo)
    assert proc.returncode == 0, proc.stderr
    assert "rebuilt: sizes\n" in proc.stdout   # it names what it rebuilt
    assert rebuilt(demo, "overlays") == ([], 0)
