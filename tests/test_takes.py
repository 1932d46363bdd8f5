"""The creator's own voice: one take per segment or per episode, its lines
found by the recognizer. Takes are made here from the voice itself, with
random pauses and room noise, so the true start of every line is known."""
import json
import subprocess
import sys
import wave

import pytest
import yaml

from bilicast import align, narrate
from bilicast.cache import Cache
from bilicast.script import load_script

from maketake import make_take

LINES = [
    "今天我们拿一个真实的小模型，从训练一路走到手机能跑的格式。",
    "先训练一个小小的卷积网络，数据是自带的手写数字。",
    "第三步是量化，把float32的权重换成int8。",
    "在没见过的测试图片上，准确率是96.7%。",
    "最后把这个文件放进App，用解释器加载就能推理。",
]
MISREAD = "第三步是压缩，把模型的参数换成整数。"        # line 3 read wrong
ELSEWHERE = "顺便说一句，别忘了点赞和关注。"              # not in the script
KEYS = [f"s#{j + 1}" for j in range(len(LINES))]


def script_text(take_yaml: str, lines=LINES) -> str:
    narration = "\n".join(f"      - {t}" for t in lines)
    return (f"episode: {{id: takes, title: 录音, voice: {{mode: recorded}}}}\n"
            f"segments:\n  - id: s\n    scene: titles.TitleCard\n    params: {{title: 录音}}\n"
            f"    audio: {take_yaml}\n    narration:\n{narration}\n")


def run(ws, *args):
    return subprocess.run([sys.executable, "-m", "bilicast.cli", *args], capture_output=True, text=True, cwd=ws)


def aligned(ws, texts, seed=0, **kw):
    (ws / "takes").mkdir(exist_ok=True)
    truth = make_take(texts, ws / "takes" / "s.wav", seed=seed, **kw)
    result, _ = align.align_take(ws / "takes" / "s.wav", list(zip(KEYS, LINES)), Cache(ws / ".cache"))
    return truth, result


@pytest.mark.parametrize("seed", [1, 2])
def test_clean_take_every_line_within_80_ms(workspace, seed):
    truth, result = aligned(workspace, LINES, seed=seed)
    assert [x.flags for x in result.lines] == [[]] * len(LINES)
    assert not result.extra
    for k, ((start, end), found) in enumerate(zip(truth, result.lines)):
        assert found.start + align.LEAD == pytest.approx(start, abs=0.08)
        # the cut never clips the line's last sound, nor reaches the next line
        assert end - 0.05 <= found.end - align.TAIL
        assert found.end < (truth[k + 1][0] if k + 1 < len(truth) else result.duration + 0.01)


def test_misread_line_is_named(workspace):
    _, result = aligned(workspace, LINES[:2] + [MISREAD] + LINES[3:], seed=3)
    flags = {x.key: x.flags for x in result.lines}
    assert any(f.startswith("misread") or f == "not found" for f in flags["s#3"]), flags
    assert all(not v for k, v in flags.items() if k != "s#3"), flags


def test_line_said_twice_uses_the_last(workspace):
    truth, result = aligned(workspace, LINES[:2] + [LINES[2], LINES[2]] + LINES[3:], seed=4)
    third = result.lines[2]
    assert any(f.startswith("said 2 times") for f in third.flags), third.flags
    assert third.start + align.LEAD == pytest.approx(truth[3][0], abs=0.08)   # the second reading
    assert not result.extra


def test_speech_not_in_the_script_is_reported(workspace):
    _, result = aligned(workspace, LINES[:2] + [ELSEWHERE] + LINES[2:], seed=5)
    assert all(x.found and not x.flags for x in result.lines)
    assert len(result.extra) == 1 and "点赞" in result.extra[0]["heard"]


def test_skipped_line_is_named_by_align_and_render_exit_2(workspace):
    (workspace / "takes").mkdir()
    make_take(LINES[:3] + LINES[4:], workspace / "takes" / "s.wav", seed=6)
    (workspace / "ep.yaml").write_text(script_text("{file: takes/s.wav}"), encoding="utf-8")
    proc = run(workspace, "align", "ep.yaml")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "s#4" in proc.stdout and "not found" in proc.stdout
    assert "Traceback" not in proc.stderr
    proc = run(workspace, "render", "ep.yaml", "--preview")
    assert proc.returncode == 2 and "s#4" in proc.stderr and "Traceback" not in proc.stderr
    assert not (workspace / "out" / "takes" / "main" / "video.mp4").exists()


def _line_seconds(ws, script_path):
    script = load_script(script_path, workspace=ws)
    audio = narrate.prepare(script, ws, Cache(ws / ".cache"))
    return [round(audio[(0, j)].seconds, 3) for j in range(len(LINES))]


def test_retake_replaces_only_its_line(workspace):
    (workspace / "takes").mkdir()
    make_take(LINES, workspace / "takes" / "s.wav", seed=7)
    make_take([LINES[2]], workspace / "takes" / "s-3-retake.wav", seed=8, pauses=(0.6, 0.6))
    path = workspace / "ep.yaml"
    path.write_text(script_text("{file: takes/s.wav}"), encoding="utf-8")
    before = _line_seconds(workspace, path)
    text = script_text("{file: takes/s.wav}").replace(f"      - {LINES[2]}",
                                                      f"      - {{text: {LINES[2]}, audio: takes/s-3-retake.wav}}")
    path.write_text(text, encoding="utf-8")
    after = _line_seconds(workspace, path)
    assert after[:2] == before[:2] and after[3:] == before[3:]
    with wave.open(str(workspace / "takes" / "s-3-retake.wav")) as w:
        assert after[2] == pytest.approx(w.getnframes() / w.getframerate(), abs=0.01)   # the whole retake file


def test_clean_matches_loudness_and_removes_hum(workspace):
    """clean: true on a quiet take with mains hum: the line comes out near the
    take loudness target, with the 50 Hz hum filtered."""
    import numpy as np
    from bilicast.media import loudness
    (workspace / "takes").mkdir()
    make_take(LINES[:2], workspace / "takes" / "s.wav", seed=9, gain_db=-18, noise_db=-45)
    path = workspace / "ep.yaml"
    lines = LINES[:2]
    path.write_text(script_text("{file: takes/s.wav, clean: true}", lines), encoding="utf-8")
    script = load_script(path, workspace=workspace)
    audio = narrate.prepare(script, workspace, Cache(workspace / ".cache"))
    first = audio[(0, 0)].path
    assert loudness(first)[0] == pytest.approx(narrate.TAKE_LOUDNESS, abs=2.0)
    raw_loudness = loudness(workspace / "takes" / "s.wav")[0]
    assert raw_loudness < narrate.TAKE_LOUDNESS - 8
    def hum_to_voice(path, channels):
        with wave.open(str(path)) as w:
            data = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, channels)[:, 0].astype(float)
            rate = w.getframerate()
        spectrum, freqs = np.abs(np.fft.rfft(data)), np.fft.rfftfreq(len(data), 1 / rate)
        return spectrum[(freqs > 48) & (freqs < 52)].mean() / spectrum[(freqs > 200) & (freqs < 2000)].mean()

    assert hum_to_voice(first, 2) < hum_to_voice(workspace / "takes" / "s.wav", 1) / 5.6   # at least 15 dB down


EPISODE_TAKE = """\
episode:
  id: whole
  title: 一条录音
  voice: {mode: recorded, take: takes/whole.wav}
segments:
  - id: intro
    scene: titles.TitleCard
    params: {title: 一条录音}
    narration:
      - 今天我们拿一个真实的小模型，从训练一路走到手机能跑的格式。
  - id: steps
    scene: pipeline.Flow
    params: {steps: [训练, 转换, 量化]}
    narration:
      - {text: 先训练一个小小的卷积网络。, beat: 1}
      - {text: 再把它转换成TFLite格式。, beat: 2}
      - {text: 第三步是量化，把float32的权重换成int8。, beat: 3}
"""


def test_whole_episode_take_renders_in_step_and_passes_check(workspace):
    ws = workspace
    (ws / "takes").mkdir()
    texts = [ln if isinstance(ln, str) else ln["text"]
             for seg in yaml.safe_load(EPISODE_TAKE)["segments"] for ln in seg["narration"]]
    truth = make_take(texts, ws / "takes" / "whole.wav", seed=10)
    (ws / "ep.yaml").write_text(EPISODE_TAKE, encoding="utf-8")
    proc = run(ws, "align", "ep.yaml")
    assert proc.returncode == 0 and "not found" not in proc.stdout, proc.stdout + proc.stderr
    proc = run(ws, "render", "ep.yaml", "--preview")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bundle = ws / "out" / "whole" / "main"
    timeline = json.loads((bundle / "timeline.json").read_text("utf-8"))
    lines = [e for e in timeline["events"] if "line" in e]
    # each line lasts as long as its aligned span of the take, and its subtitle cue starts with it
    spans = [e - s for s, e in truth]
    for event, span in zip(lines, spans):
        assert event["end"] - event["start"] == pytest.approx(span + align.LEAD + align.TAIL, abs=0.16)
    srt = (bundle / "subtitles.srt").read_text("utf-8")
    first_cue = srt.split("\n")[1].split(" --> ")[0]
    h, m, rest = first_cue.split(":")
    assert float(rest.replace(",", ".")) + 60 * int(m) == pytest.approx(lines[0]["start"], abs=0.02)
    # beats: each named beat starts with its line (minus the lead)
    beats = {(e["segment"], e["beat"]): e["start"] for e in timeline["events"] if "beat" in e and "line" not in e}
    for e in lines:
        for b in e["beats"]:
            assert beats[(e["segment"], b)] == pytest.approx(e["start"] - 0.2, abs=0.05)
    assert run(ws, "check", str(bundle)).returncode == 0
    proc = run(ws, "check", "--speech", str(bundle))
    assert proc.returncode == 0, proc.stdout
    # plan names the take as the cause when it changes
    make_take(texts, ws / "takes" / "whole.wav", seed=11)
    proc = run(ws, "plan", "ep.yaml", "--preview")
    assert proc.returncode == 0 and "take changed" in proc.stdout, proc.stdout + proc.stderr
