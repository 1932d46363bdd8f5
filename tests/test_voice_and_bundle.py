"""Narration audio, subtitles, covers, the upload bundle and `bilicast check`,
with real audio and real files throughout."""
import json
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pysubs2
import pytest
import yaml
from PIL import Image

from bilicast import cli
from bilicast.media import loudness
from bilicast.episode import load_episode
from bilicast.render import plan_with_voice
from conftest import ROOT, write_take


RECORDED = """\
episode:
  id: takes
  title: 录音测试
  voice: {mode: recorded}
segments:
  - id: lines
    scene: titles.TitleCard
    params: {title: 逐句录音}
    narration:
      - {text: 第一句，一秒半。, audio: takes/a.wav}
      - {text: 第二句，两秒。, audio: takes/b.wav}
  - id: whole
    scene: titles.TitleCard
    params: {title: 整段录音}
    audio: {file: takes/whole.wav, starts: [0.0, 1.25]}
    narration: [这一段是一个文件。, 里面有两句话。]
"""


def test_recorded_takes_time_the_lines_and_subtitles(workspace):
    write_take(workspace / "takes" / "a.wav", 1.5)
    write_take(workspace / "takes" / "b.wav", 2.0, rate=22050, channels=2)
    write_take(workspace / "takes" / "whole.wav", 3.0)
    (workspace / "ep.yaml").write_text(RECORDED, encoding="utf-8")
    plan, = plan_with_voice(load_episode(workspace / "ep.yaml"))
    lines = [ln for seg in plan.timeline for ln in seg.lines]
    assert [round(ln.end - ln.start, 3) for ln in lines] == [1.5, 2.0, 1.25, 1.75]
    for audio in plan.line_audio.values():   # resampled to 48 kHz stereo
        with wave.open(str(audio.path)) as w:
            assert (w.getframerate(), w.getnchannels()) == (48000, 2)
    # subtitle cues follow the audio timing exactly
    starts = [seg.start + ln.start for seg in plan.timeline for ln in seg.lines]
    assert [c.start for c in plan.cues] == pytest.approx(starts, abs=0.005)


def test_tts_is_offline_cached_and_times_the_line(workspace):
    (workspace / "ep.yaml").write_text(
        "episode: {id: tts, title: 语音, voice: {mode: tts}}\n"
        "segments:\n  - {id: a, scene: titles.TitleCard, params: {title: 你好}, "
        "narration: [先把模型导出成SavedModel。, 短句。]}\n", encoding="utf-8")
    episode = load_episode(workspace / "ep.yaml")
    plan, = plan_with_voice(episode)
    first, second = plan.line_audio[(0, 0)], plan.line_audio[(0, 1)]
    assert first.seconds > second.seconds > 0.3
    assert plan.timeline[0].lines[0].end - plan.timeline[0].lines[0].start == pytest.approx(first.seconds, abs=1e-3)
    mtime = first.path.stat().st_mtime_ns
    again, = plan_with_voice(episode)
    assert again.line_audio[(0, 0)].path == first.path and first.path.stat().st_mtime_ns == mtime


EPISODE = """\
episode:
  id: bundle
  title: 三步把你的Keras模型塞进手机App
  tags: [TensorFlow, TFLite]
  voice: {mode: tts}
  music: {file: assets/music/soft-pad.ogg}
  cover: {badge: 实测, background: segment:b}
  upload: {desc: 一期测试视频。, dynamic: 新视频}
segments:
  - id: a
    scene: titles.TitleCard
    params: {title: 打包测试}
    narration: [这是第一句话，用来测试语音和字幕是否对齐。]
  - id: b
    chapter: 第二部分
    scene: bullets.Checklist
    params: {items: [响度, 封面, 字幕]}
    narration: [最后检查响度、封面和字幕。]
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    ws = tmp_path_factory.mktemp("bundle")
    (ws / "scenes").symlink_to(ROOT / "scenes")
    shutil.copytree(ROOT / "assets", ws / "assets")
    (ws / "ep.yaml").write_text(EPISODE, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "bilicast.cli", "render", str(ws / "ep.yaml"), "--preview",
                           "--out", str(ws / "out")], capture_output=True, text=True, cwd=ws)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return ws / "out" / "bundle" / "main"


def test_mix_is_normalized_to_minus_14_lufs(bundle):
    integrated, true_peak = loudness(bundle / "video.mp4")
    assert abs(integrated - (-14.0)) <= 1.0, integrated
    assert true_peak <= -1.0, true_peak


def test_subtitle_files_share_timing(bundle):
    srt = pysubs2.load(str(bundle / "subtitles.srt"))
    ass = pysubs2.load(str(bundle / "subtitles.ass"))
    bcc = json.loads((bundle / "subtitles.bcc.json").read_text(encoding="utf-8"))
    assert set(bcc) >= {"font_size", "font_color", "background_alpha", "background_color", "Stroke", "body"}
    for cue in bcc["body"]:
        assert set(cue) == {"from", "to", "location", "content"} and cue["location"] == 2
        assert isinstance(cue["from"], float) and cue["from"] < cue["to"]
    srt_times = [(e.start, e.end) for e in srt]
    assert srt_times == [(e.start, e.end) for e in ass]
    assert srt_times == [(round(c["from"] * 1000), round(c["to"] * 1000)) for c in bcc["body"]]
    assert [e.plaintext for e in srt] == [c["content"] for c in bcc["body"]]
    assert ass.styles["Default"].fontname == "Noto Sans CJK SC"
    assert all(len(line) <= 20 for e in srt for line in e.plaintext.split("\n"))


def test_covers_and_upload_files(bundle):
    for name, size in [("cover.jpg", (1920, 1080)), ("cover_4x3.jpg", (1440, 1080))]:
        with Image.open(bundle / name) as img:
            assert img.size == size and img.format == "JPEG"
        assert (bundle / name).stat().st_size <= 5 * 1024 * 1024
    desc = (bundle / "description.txt").read_text(encoding="utf-8")
    assert desc.startswith("一期测试视频。") and "\n0:00 三步把你的Keras模型塞进手机App\n" in desc
    assert "第二部分" in desc
    up = yaml.safe_load((bundle / "upload.yaml").read_text(encoding="utf-8"))["streamers"]["video.mp4"]
    assert up["title"] == "三步把你的Keras模型塞进手机App" and up["tag"] == "TensorFlow,TFLite"
    assert (up["tid_v2"], up["tid"]) == (2096, 231)   # AI学习, the default partition, and its old id
    assert up["desc"] == desc and up["cover"] == "cover.jpg" and up["copyright"] == 1


def test_cover_command_writes_the_covers_again(bundle, tmp_path, capsys):
    """`bilicast cover` alone: both covers, from the rendered video's segment frame."""
    ws = bundle.parents[2]
    out = tmp_path / "out"
    shutil.copytree(ws / "out", out)
    for name in ("cover.jpg", "cover_4x3.jpg"):
        (out / "bundle" / "main" / name).unlink()
    assert cli.main(["cover", str(ws / "ep.yaml"), "--out", str(out)]) == 0
    written = capsys.readouterr().out.split()
    assert sorted(Path(p).name for p in written) == ["cover.jpg", "cover_4x3.jpg"]
    for name in ("cover.jpg", "cover_4x3.jpg"):
        assert (out / "bundle/main" / name).read_bytes() == (bundle / name).read_bytes()


def test_cover_text_stays_in_the_safe_area(bundle):
    """Bright title pixels appear only inside the 4:3 area and above the bottom strip."""
    with Image.open(bundle / "cover.jpg") as img:
        grey = np.asarray(img.convert("L"), dtype=float)
    bright = grey > 235
    assert bright.sum() > 5000   # there is a title
    assert not bright[:, :240].any() and not bright[:, 1680:].any()
    assert not bright[1080 - 150:, :].any()


def test_check_passes_the_bundle(bundle, capsys):
    assert cli.main(["check", str(bundle)]) == 0, capsys.readouterr().out


def make_video(path, *extra, seconds=2, audio="-f lavfi -i sine=frequency=440:sample_rate=48000 -ac 2"):
    cmd = (f"ffmpeg -v error -y -f lavfi -i testsrc=size=320x180:rate=30:duration={seconds} {audio} "
           f"-t {seconds} -c:v libx264 -pix_fmt yuv420p -c:a aac -b:a 128k -movflags +faststart "
           + " ".join(extra) + f" {path}")
    subprocess.run(cmd.split(), check=True)
    return path


@pytest.mark.parametrize("name,extra,failing", [
    ("pix444", ["-pix_fmt", "yuv444p"], "pixel format yuv420p"),
    ("mono44k", ["-ar", "44100", "-ac", "1"], "audio 48 kHz"),
    ("longgop", ["-g", "400", "-keyint_min", "400", "-sc_threshold", "0"], "keyframe at least every 10 s"),
    ("no_faststart", ["-movflags", "-faststart"], "moov before mdat"),
])
def test_check_reports_known_bad_videos(tmp_path, capsys, name, extra, failing):
    seconds = 12 if name == "longgop" else 2
    video = make_video(tmp_path / f"{name}.mp4", *extra, seconds=seconds)
    assert cli.main(["check", str(video)]) == 1
    report = capsys.readouterr().out
    failed = [row for row in report.splitlines() if row.startswith("FAIL")]
    assert any(failing in row for row in failed), report
    if name == "mono44k":
        assert any("audio stereo" in row for row in failed), report


def test_check_reports_an_oversized_cover(bundle, tmp_path, capsys):
    import shutil
    folder = tmp_path / "bundle"
    shutil.copytree(bundle, folder)
    noise = np.random.default_rng(0).integers(0, 255, (1080, 1920, 3), dtype=np.uint8)
    Image.fromarray(noise).save(folder / "cover.jpg", quality=100, subsampling=0)
    assert (folder / "cover.jpg").stat().st_size > 5 * 1024 * 1024
    assert cli.main(["check", str(folder)]) == 1
    assert "FAIL  cover.jpg <= 5 MB" in capsys.readouterr().out


def test_subs_command_exports_without_rendering(workspace, capsys):
    (workspace / "ep.yaml").write_text(EPISODE.replace("  music: {file: assets/music/soft-pad.ogg}\n", "")
                                       .replace("voice: {mode: tts}", "voice: {mode: silent}"), encoding="utf-8")
    assert cli.main(["subs", str(workspace / "ep.yaml"), "--format", "srt,bcc", "--out", str(workspace / "o")]) == 0
    written = sorted(p.name for p in (workspace / "o" / "bundle" / "main").iterdir())
    assert written == ["subtitles.bcc.json", "subtitles.srt"]


@pytest.mark.parametrize("change,line,needle", [
    (("  voice: {mode: tts}\n", "  voice: {mode: recorded}\n"), 13, "has no audio"),
    (("  music: {file: assets/music/soft-pad.ogg}", "  music: {file: assets/music/missing.ogg}"), 6, "does not exist"),
    (("  upload: {desc: 一期测试视频。, dynamic: 新视频}", "  upload: {copyright: 2}"), 8, "needs a source"),
    (("  upload: {desc: 一期测试视频。, dynamic: 新视频}", "  upload: {dynamic: " + "长" * 234 + "}"), 8,
     "at most 233"),
    (("  upload: {desc: 一期测试视频。, dynamic: 新视频}", "  upload: {desc: " + "长" * 1990 + "}"), 8, "2000"),
    (("background: segment:b", "background: segment:zz"), 7, "no segment has the id 'zz'"),
    (("  voice: {mode: tts}\n", "  voice: {mode: tts, backend: azure}\n"), 5, "unknown TTS backend"),
])
def test_publishing_and_audio_errors_at_load(workspace, capsys, change, line, needle):
    shutil.copytree(ROOT / "assets", workspace / "assets")
    path = workspace / "ep.yaml"
    path.write_text(EPISODE.replace(*change), encoding="utf-8")
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}:" in err and needle in err, err
