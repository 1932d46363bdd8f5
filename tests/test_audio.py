"""The episode's audio a segment at a time: loudness measured per segment
and combined as BS.1770 does, mixes joined sample for sample, and a changed
line re-mixing only its segment."""
import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from bilicast import assemble
from bilicast.media import loudness

EPISODE = """\
episode:
  id: mix
  title: 混音测试
  voice: {mode: tts}
segments:
  - id: one
    scene: titles.TitleCard
    params: {title: 第一段}
    narration: [第一段只有一句话。]
  - id: two
    scene: titles.TitleCard
    params: {title: 第二段}
    narration: [第二段的旁白。, 还有第二句。]
  - id: three
    scene: titles.TitleCard
    params: {title: 第三段}
    narration: [第三段的旁白。]
"""


def test_loudness_measured_per_segment_is_ebur128_of_the_whole(tmp_path):
    """Segments of different lengths and levels (one silent), measured apart
    and combined, give what ffmpeg's ebur128 measures on the joined audio."""
    rng = np.random.default_rng(1)
    fps = 60
    segments = []
    for frames, level in [(137, 0.05), (61, 0.0), (250, 0.3), (90, 0.01), (400, 0.1)]:
        n = frames * 48000 // fps
        swell = 0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * np.arange(n) / 48000)
        segments.append((level * rng.standard_normal((n, 2)) * swell[:, None]).astype(np.float32))
    step = assemble.power_step(fps)
    measured = [assemble.measure(x, step) for x in segments]
    ours = assemble.integrated_loudness(assemble.episode_bins([power for power, _ in measured], step))
    wavfile.write(tmp_path / "joined.wav", 48000, np.concatenate(segments))
    integrated, peak = loudness(tmp_path / "joined.wav")
    assert ours == pytest.approx(integrated, abs=0.1)
    assert max(p for _, p in measured) == pytest.approx(peak, abs=0.3)


def render(workspace):
    proc = subprocess.run([sys.executable, "-m", "bilicast.cli", "render", "ep.yaml", "--preview"],
                          capture_output=True, text=True, cwd=workspace)
    assert proc.returncode == 0, proc.stderr


def samples(video: Path) -> bytes:
    return subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-map", "0:a", "-f", "s16le", "-"],
                          capture_output=True, check=True).stdout


def track_wav(workspace: Path) -> np.ndarray:
    wav, = (workspace / ".cache" / "audio").glob("*.wav")
    return wavfile.read(wav)[1]


def test_a_changed_line_remixes_its_segment_and_matches_a_cold_render(workspace, tmp_path):
    import shutil
    (workspace / "ep.yaml").write_text(EPISODE, encoding="utf-8")
    render(workspace)
    mixes = workspace / ".cache" / "mixes"
    assert len(list(mixes.glob("*.npz"))) == 3
    (workspace / "ep.yaml").write_text(EPISODE.replace("还有第二句。", "第二句换了，也更长了一些。"), encoding="utf-8")
    shutil.rmtree(workspace / ".cache" / "audio")   # only this episode's latest track, to read back below
    render(workspace)
    assert len(list(mixes.glob("*.npz"))) == 4   # one segment mixed again
    cold = tmp_path / "cold"
    shutil.copytree(workspace, cold, ignore=shutil.ignore_patterns("out", ".cache"), symlinks=True)
    render(cold)
    # the track (before AAC) and the video's decoded audio are what a cold render makes, sample for sample
    assert np.array_equal(track_wav(workspace), track_wav(cold))
    warm = samples(workspace / "out/mix/main/video.mp4")
    assert hashlib.sha256(warm).digest() == hashlib.sha256(samples(cold / "out/mix/main/video.mp4")).digest()


def test_segment_mixes_join_sample_for_sample(workspace):
    """The track is the segments' mixes end to end under one gain: nothing
    lost, doubled or changed at a join, and every line's voice starts on the
    sample its timing says."""
    from bilicast.build import build_voice
    from bilicast.episode import load_episode
    from bilicast.plan import audio_plan, make_plan
    (workspace / "ep.yaml").write_text(EPISODE, encoding="utf-8")
    render(workspace)
    episode = load_episode(workspace / "ep.yaml")
    plan = make_plan(episode.script, workspace, build_voice(episode.script, workspace), episode.scenes, True)
    _, mixes = audio_plan(plan)
    pieces = []
    for mix in mixes:
        with np.load(mix["target"]) as cached:
            audio = cached["audio"]
        for n, (path, at) in enumerate(mix["voice"]):
            clip = wavfile.read(path)[1].astype(np.float32) / 32768
            start = round(at * 48000)
            assert np.abs(audio[start:start + len(clip)] - clip).max() < 1e-4   # no music: the voice alone
            if n == 0:
                assert np.abs(audio[:start]).max() == 0   # silence before the first: it starts on that sample
        pieces.append(audio)
    joined, track = np.concatenate(pieces), track_wav(workspace).astype(np.float32) / 32768
    assert len(track) == len(joined) == round(plan.duration * 48000)
    gain = np.abs(track).max() / np.abs(joined).max()
    assert np.abs(track - joined * gain).max() < 2 / 32768   # within one step of 16-bit rounding
