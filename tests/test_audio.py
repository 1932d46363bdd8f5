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
from conftest import audio_samples

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


def encode_whole(wav: Path, target: Path) -> None:
    """A WAV as AAC in one encode, with the track's settings: the reference the pieces are held to."""
    from bilicast.media import audio_encode_args, run_ffmpeg
    run_ffmpeg(["-i", str(wav), *audio_encode_args(), "-f", "mp4", str(target)], "encoding the reference")


def decoded(path: Path) -> np.ndarray:
    return np.frombuffer(subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "2", "-"],
                                        capture_output=True, check=True).stdout, np.float32).reshape(-1, 2)


def test_aac_pieces_join_sample_exact_without_a_click(tmp_path):
    """The track encoded a segment at a time and joined by copying packets
    decodes in step with its samples (every join at lag 0, nothing lost or
    added) and is no noisier at a join than elsewhere. Pieces encoded on
    their own and laid end to end, the naive way, are: that is the click."""
    rate, n = 48000, 6 * 48000 + 555
    t = np.arange(n) / rate
    tone = sum(a * np.sin(2 * np.pi * f * t + f) for f, a in ((220, .2), (331, .12), (495, .08), (1210, .03)))
    ticks = np.exp(-(t % 0.5) * 30) * np.random.default_rng(7).standard_normal(n) * 0.3   # transients
    track = np.round(np.stack([tone + ticks, 0.8 * tone - ticks], 1) * 0.7 * 32767).astype(np.int16)
    starts = [0.0, 1.337, 2.9, 4.41]
    pieces, naive = [], []
    for i, (first, end) in enumerate(assemble.aac_pieces(starts, n)):
        pieces.append(tmp_path / f"{i}.aac")
        assemble.encode_piece(assemble.piece_input(track, first, end), first, end, pieces[-1])
        wavfile.write(tmp_path / f"{i}.wav", rate, track[first * 1024:end * 1024])
        encode_whole(tmp_path / f"{i}.wav", tmp_path / f"{i}.m4a")
        naive.append(decoded(tmp_path / f"{i}.m4a")[:(end - first) * 1024])
    assert [len(assemble.adts_packets(p.read_bytes())) for p in pieces] == [
        end - first + (first == 0) for first, end in assemble.aac_pieces(starts, n)]
    assemble.join_pieces(pieces, tmp_path / "track.m4a")
    heard, said = decoded(tmp_path / "track.m4a"), track / 32768
    assert n <= len(heard) < n + 1024   # every sample, then the last frame's padding only

    def snr(y, at):
        w = slice(at - 2048, at + 2048)
        return 10 * np.log10((said[w] ** 2).mean() / ((y[w] - said[w]) ** 2).mean())

    wavfile.write(tmp_path / "whole.wav", rate, track)
    encode_whole(tmp_path / "whole.wav", tmp_path / "whole.m4a")   # one encode: the reference
    whole, naive = decoded(tmp_path / "whole.m4a"), np.concatenate(naive)
    for first, _ in assemble.aac_pieces(starts, n)[1:]:
        at = first * 1024
        near = [np.sum(heard[at - 2048 + lag:at + 2048 + lag, 0] * said[at - 2048:at + 2048, 0]) for lag in range(-8, 9)]
        assert np.argmax(near) == 8                    # in step to the sample
        assert snr(heard, at) > snr(whole, at) - 3     # as clean as one encode there: no click
        assert snr(naive, at) < snr(whole, at) - 10    # the naive join clicks


def test_a_change_inside_a_segment_re_encodes_its_piece_only(tmp_path):
    """Pieces are cached by what their encoder is given: after a change inside
    the middle segment (away from the frames its neighbours' encoders also
    see), only the middle piece is encoded again."""
    from types import SimpleNamespace

    from bilicast.build import _encode_pieces
    from bilicast.cache import Cache
    segments = [SimpleNamespace(id=name) for name in ("one", "two", "three")]
    plan = SimpleNamespace(cache=Cache(tmp_path / "cache"), timeline=segments, workspace=tmp_path)
    mixes = [SimpleNamespace(index=i, start=start) for i, start in enumerate([0.0, 1.0, 2.0])]
    track = (np.random.default_rng(3).standard_normal((3 * 48000, 2)) * 3000).astype(np.int16)
    wavfile.write(tmp_path / "a.wav", 48000, track)
    before = _encode_pieces(plan, tmp_path / "a.wav", mixes)
    track[60000:70000] //= 2    # inside the second segment, away from its ends
    wavfile.write(tmp_path / "b.wav", 48000, track)
    after = _encode_pieces(plan, tmp_path / "b.wav", mixes)
    assert after[0] == before[0] and after[1] != before[1] and after[2] == before[2]
    assert len(list((tmp_path / "cache" / "aac").glob("*.aac"))) == 4


def render(workspace):
    proc = subprocess.run([sys.executable, "-m", "bilicast.cli", "render", "ep.yaml", "--preview"],
                          capture_output=True, text=True, cwd=workspace)
    assert proc.returncode == 0, proc.stderr



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
    warm = audio_samples(workspace / "out/mix/main/video.mp4")
    assert hashlib.sha256(warm).digest() == hashlib.sha256(audio_samples(cold / "out/mix/main/video.mp4")).digest()


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
        with np.load(mix.target) as cached:
            audio = cached["audio"]
        for n, (path, at) in enumerate(mix.voice):
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
