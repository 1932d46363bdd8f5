"""Picture and voice in step: each beat's first changed frame lands on its planned start."""
import json
import subprocess
import sys

import numpy as np
import pytest

from bilicast import cli
from bilicast.timeline import LineTiming, schedule_beats
from conftest import write_take

EPISODE = """\
episode:
  id: beats
  title: 节拍测试
  output: {resolution: 720p, fps: 60}
  subtitles: {burn_in: false}
  voice: {mode: recorded}
segments:
  - id: flow
    scene: pipeline.Flow
    params: {steps: [导出, 转换, 量化, 上线]}
    narration:
      - {text: 第一步导出。, audio: takes/1.wav, beat: 1}
      - {text: 第二步转换。, audio: takes/2.wav, beat: 2}
      - {text: 第三步量化再上线。, audio: takes/3.wav, beat: [3, 4]}
      - {text: 就这么简单。, audio: takes/4.wav}
"""
TAKES = {"1": 1.3, "2": 0.9, "3": 2.6, "4": 1.1}


def frames_gray(video, width=640, height=360):
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-vf", f"scale={width}:{height},format=gray",
                          "-f", "rawvideo", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width)


def onsets(frames, level=10, pixels=12):
    """Frames where the picture starts changing after at least one still frame."""
    changed = [0] + [int((np.abs(b.astype(np.int16) - a) > level).sum() >= pixels) for a, b in zip(frames, frames[1:])]
    return [f for f in range(1, len(changed)) if changed[f] and not changed[f - 1]]


@pytest.mark.parametrize("preview", [True, False], ids=["preview-15fps", "full-60fps"])
def test_beats_start_within_one_frame_of_plan(workspace, preview):
    for name, seconds in TAKES.items():
        write_take(workspace / "takes" / f"{name}.wav", seconds)
    script = workspace / "ep.yaml"
    script.write_text(EPISODE, encoding="utf-8")
    cmd = [sys.executable, "-m", "bilicast.cli", "render", str(script), "--out", str(workspace / "out")]
    proc = subprocess.run(cmd + (["--preview"] if preview else []), capture_output=True, text=True, cwd=workspace)
    assert proc.returncode == 0, proc.stderr
    out = workspace / "out" / "beats" / "main"
    timeline = json.loads((out / "timeline.json").read_text())
    fps = timeline["fps"]
    assert fps == (15 if preview else 60)
    lines = [e for e in timeline["events"] if "line" in e]
    beats = {e["beat"]: e for e in timeline["events"] if "beat" in e}
    assert sorted(beats) == [1, 2, 3, 4]
    # beats follow their lines: a beat starts `lead` (0.2 s) before its line
    assert beats[1]["start"] == pytest.approx(lines[0]["start"] - 0.2, abs=1e-3)
    assert beats[2]["start"] == pytest.approx(lines[1]["start"] - 0.2, abs=1e-3)
    # lines last as long as their takes
    assert [round(e["end"] - e["start"], 2) for e in lines] == list(TAKES.values())
    found = onsets(frames_gray(out / "video.mp4"))
    for number, beat in beats.items():
        planned = beat["start"] * fps
        nearest = min(found, key=lambda f: abs(f - planned))
        assert abs(nearest - planned) <= 1, (number, planned, found)


def test_speed_up_fits_a_short_line_and_extend_keeps_the_animation():
    line = LineTiming("短", 1.0, 1.3, (1,))
    fast = schedule_beats(1, 0.8, [line], 3.0, 0.2, "speed_up", 60)
    assert fast == {1: (0.8, 0.5)}   # 0.3 s line + 0.2 s lead
    kept = schedule_beats(1, 0.8, [line], 3.0, 0.2, "extend", 60)
    assert kept == {1: (0.8, 0.8)}


def test_unnamed_beats_follow_the_one_before():
    lines = [LineTiming("a", 1.0, 2.0, (2,)), LineTiming("b", 2.3, 3.0, ())]
    plan = schedule_beats(3, 0.5, lines, 4.0, 0.0, "speed_up", 30)
    assert plan == {1: (0.0, 0.5), 2: (1.0, 0.5), 3: (1.5, 0.5)}


def test_extend_lengthens_the_pause_after_a_short_line(workspace):
    from bilicast.script import load_script
    from bilicast.timeline import plan_timeline
    text = EPISODE.replace("voice: {mode: recorded}", "voice: {mode: silent}\n  beats: {fit: extend}")
    (workspace / "ep.yaml").write_text(text.replace("第二步转换。", "转。"), encoding="utf-8")
    script = load_script(workspace / "ep.yaml")
    seg = plan_timeline(script, 60, {(0, 1): 0.3}, {0: (4, 0.8)})[0]
    # line 2 lasts 0.3 s; its beat needs 0.8 s: the next line waits for it
    assert seg.lines[2].start - seg.lines[1].end == pytest.approx(0.3 + (0.8 - 0.5), abs=1e-3)


@pytest.mark.parametrize("beat,needle", [("5", "has no beat 5"), ("[1, 7]", "has no beat 7"), ("0", "at least 1"),
                                         ("1", "already brought in by narration[0]")])
def test_unknown_beat_is_a_validation_error(workspace, capsys, beat, needle):
    path = workspace / "ep.yaml"
    path.write_text(EPISODE.replace("voice: {mode: recorded}", "voice: {mode: silent}")
                    .replace("audio: takes/2.wav, beat: 2", f"beat: {beat}"), encoding="utf-8")
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:13:" in err and needle in err, err


def test_title_card_has_no_beats(workspace, capsys):
    path = workspace / "ep.yaml"
    path.write_text("episode: {id: t, title: 标题}\nsegments:\n  - id: a\n    scene: titles.TitleCard\n"
                    "    params: {title: 你好}\n    narration:\n      - {text: 一句话, beat: 1}\n", encoding="utf-8")
    assert cli.main(["validate", str(path)]) == 2
    assert f"{path}:7:" in capsys.readouterr().err
