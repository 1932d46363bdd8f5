"""The first season: the four episodes render end to end at preview quality
from real --tiny results, and their bundles pass `bilicast check`."""
import json
import subprocess
import sys

import pytest
import yaml
from PIL import Image

from bilicast import cli
from bilicast.check import check_labels

from conftest import ffprobe

EPISODES = ["ep01-keras-to-phone", "ep02-self-evolving-model", "ep03-train-serve-skew", "ep04-production-pitfalls"]


@pytest.mark.parametrize("episode", EPISODES)
def test_episode_renders_to_a_checked_bundle(tiny_workspace, episode, capsys):
    ws = tiny_workspace
    proc = subprocess.run([sys.executable, "-m", "bilicast.cli", "render", f"scripts/{episode}.yaml", "--preview"],
                          capture_output=True, text=True, cwd=ws)
    assert proc.returncode == 0, proc.stderr[-3000:]
    declared = yaml.safe_load((ws / "scripts" / f"{episode}.yaml").read_text(encoding="utf-8"))["episode"].get(
        "variants", ["main"])
    assert sorted(p.name for p in (ws / "out" / episode).iterdir()) == sorted(declared)
    assert cli.main(["check", str(ws / "out" / episode)]) == 0, capsys.readouterr().out   # every variant's bundle
    for cut in declared:   # TTS-voiced: the AI-content label seen at 0, 1 and 2 s and the AIGC metadata, in each cut
        labels = check_labels(ws / "out" / episode / cut)
        assert [c.ok for c in labels] == [True, True], labels
    bundle = ws / "out" / episode / "main"
    timeline = json.loads((bundle / "timeline.json").read_text())
    # under channel.yaml: the channel's opening first, its end card last, its watermark over every frame
    scenes = [s["scene"] for s in timeline["segments"]]
    assert scenes[0] == "brand.Opening" and scenes[-1] == "brand.EndCard" and "brand.Opening" not in scenes[1:]
    assert timeline["watermark"]["logo"] == "logo.svg"
    tags = ffprobe(bundle / "video.mp4")["format"]["tags"]   # one producer field: the channel's name
    assert json.loads(tags["AIGC"])["ContentProducer"] == "TF实战小课"
    duration = timeline["segments"][-1]["end"]
    # 2-6 minutes: the channel's opening and end card and its slower voice (rate 0.9) add about a tenth
    assert 120 <= duration <= 360, duration
    numbers = json.loads((bundle / "numbers.json").read_text())
    for n in numbers:   # every number shown traces back to a measured result
        assert n["sources"] and all(s["file"].endswith("-tiny.json") for s in n["sources"])
    with Image.open(bundle / "storyboard.png") as sheet:
        assert sheet.width > 1000
