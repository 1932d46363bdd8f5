"""The music beds (assets/music/, made by tools/make_music_beds.py) and beds
chosen per segment: cross-faded where the bed changes, on the episode's
clock, and keyed so a changed bed re-mixes only where it is heard."""
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bilicast import assemble
from bilicast.cache import digest, file_hash

ROOT = Path(__file__).resolve().parents[1]
MUSIC = ROOT / "assets" / "music"
BEDS = ["soft-pad", "pluck-arp", "bright-keys"]
RATE = 48_000


def decoded(path: Path) -> np.ndarray:
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "f32le", "-ar", str(RATE), "-ac", "2", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype="<f4").reshape(-1, 2).astype(np.float64)


@pytest.fixture(scope="module")
def beds() -> dict[str, np.ndarray]:
    return {name: decoded(MUSIC / f"{name}.ogg") for name in BEDS}


def test_three_beds_and_their_license():
    for name in BEDS:
        path = MUSIC / f"{name}.ogg"
        assert path.stat().st_size < 600_000, name
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,sample_rate",
                                "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True).stdout
        assert probe.strip() == "vorbis,48000", name
    license = (MUSIC / "LICENSE").read_text(encoding="utf-8")
    assert "tools/make_music_beds.py" in license and "CC0" in license


def centroid(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x.mean(axis=1)))
    return float((spectrum * np.fft.rfftfreq(len(x), 1 / RATE)).sum() / spectrum.sum())


def chroma(x: np.ndarray) -> np.ndarray:
    """Energy per pitch class (C = 0), from 60 Hz to 2 kHz."""
    spectrum = np.abs(np.fft.rfft(x.mean(axis=1))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / RATE)
    band = (f > 60) & (f < 2000)
    classes = np.round(12 * np.log2(f[band] / 440) + 69).astype(int) % 12
    c = np.bincount(classes, weights=spectrum[band], minlength=12)
    return c / np.linalg.norm(c)


def tempo(x: np.ndarray) -> float:
    """Beats a minute: the strongest periodicity (50-200 bpm) of the onsets
    (the rise in level, 10 ms frames)."""
    hop = RATE // 100
    m = x.mean(axis=1)[:len(x) // hop * hop].reshape(-1, hop)
    rise = np.maximum(0, np.diff(np.log(np.sqrt((m ** 2).mean(axis=1)) + 1e-4)))
    spectrum = np.abs(np.fft.rfft(rise - rise.mean(), 8 * len(rise)))
    bpm = np.fft.rfftfreq(8 * len(rise), hop / RATE) * 60
    band = (bpm > 50) & (bpm < 200)
    return float(bpm[band][spectrum[band].argmax()])


def test_the_beds_differ_in_timbre_key_and_tempo(beds):
    centroids = sorted(centroid(x) for x in beds.values())
    assert all(b > 1.5 * a for a, b in zip(centroids, centroids[1:])), centroids   # dark pad .. bright keys
    keys = {name: chroma(x) for name, x in beds.items()}
    assert len({int(k.argmax()) for k in keys.values()}) == 3   # each its own dominant pitch class
    for a in BEDS:
        for b in BEDS:
            if a < b:
                assert keys[a] @ keys[b] < 0.8, (a, b)
    assert tempo(beds["pluck-arp"]) == pytest.approx(90, abs=2)
    assert tempo(beds["bright-keys"]) == pytest.approx(120, abs=2)


def test_each_bed_loops_without_a_click(beds):
    for name, x in beds.items():
        steps = np.abs(np.diff(x, axis=0))
        jump = np.abs(x[0] - x[-1])   # the step a loop takes from its last sample to its first
        assert (jump <= np.percentile(steps, 99, axis=0)).all(), name
        assert np.abs(x.mean(axis=0)).max() < 1e-3, name   # no DC


def test_the_beds_are_levelled_alike(beds):
    for name, x in beds.items():
        power, peak = assemble.measure(x, assemble.BIN)
        lufs = assemble.integrated_loudness(assemble.episode_bins([power], assemble.BIN))
        assert lufs == pytest.approx(-14, abs=0.5), name
        assert peak is not None and peak < -1.0, name


EPISODE = """\
episode:
  id: beds
  title: 配乐
  voice: {mode: silent}
  music: {file: assets/music/soft-pad.ogg, volume: 0.2}
segments:
  - {id: a, scene: titles.TitleCard, params: {title: 一}, narration: [先把模型导出。]}
  - {id: b, scene: titles.TitleCard, params: {title: 二}, narration: [再转换格式。]}
  - {id: c, scene: titles.TitleCard, params: {title: 三}, min_duration: 0.6}
  - {id: d, scene: titles.TitleCard, params: {title: 四}, narration: [上线前检查三件事。]}
  - {id: e, scene: titles.TitleCard, params: {title: 五}, narration: [好了，就这样。]}
"""


def planned(workspace: Path, text: str):
    from bilicast.episode import load_episode
    from bilicast.plan import audio_targets, make_plan
    (workspace / "ep.yaml").write_text(text, encoding="utf-8")
    episode = load_episode(workspace / "ep.yaml")
    plan = make_plan(episode.script, workspace, {}, episode.scenes, True)
    _, mixes, targets = audio_targets(plan)
    return plan, mixes, targets


@pytest.fixture
def music_workspace(workspace):
    shutil.copytree(MUSIC, workspace / "assets" / "music")
    return workspace


def with_bed(text: str, segment: str, bed: str) -> str:
    line = next(x for x in text.splitlines() if x.startswith(f"  - {{id: {segment},"))
    return text.replace(line, line[:-1] + f", music: {{file: assets/music/{bed}.ogg, volume: 0.2}}}}")


def test_one_bed_keeps_its_keys_and_loops_on_the_episode_clock(music_workspace, beds):
    plan, mixes, targets = planned(music_workspace, EPISODE)
    pad = music_workspace / "assets/music/soft-pad.ogg"
    for seg, mix, made in zip(plan.timeline, mixes, targets):
        # the key's music part as it was with one bed under the whole episode
        assert made.components["music"] == digest([[file_hash(pad), 0.2, 0.3], round(seg.start, 6), []])
        assert [b.fade_in for b in mix.music] == [b.fade_out for b in mix.music] == [None]
    track = np.concatenate([assemble.mix_segment(m.duration, m.voice, m.music, m.start, m.intervals) for m in mixes])
    loop = beds["soft-pad"]
    assert np.allclose(track, 0.2 * loop[np.arange(len(track)) % len(loop)], atol=1e-7)


def test_a_changed_bed_cross_fades_from_the_segments_start(music_workspace, beds):
    plan, mixes, _ = planned(music_workspace, with_bed(EPISODE, "b", "bright-keys"))
    track = np.concatenate([assemble.mix_segment(m.duration, m.voice, m.music, m.start, m.intervals) for m in mixes])
    at = round(plan.timeline[1].start * RATE)        # where b (bright-keys) starts
    back = round(plan.timeline[2].start * RATE)      # where c goes back to the pad
    fade = round(assemble.FADE * RATE)
    assert back - at > fade                          # b outlasts its fade
    n = np.arange(len(track))
    old, new = 0.2 * beds["soft-pad"], 0.2 * beds["bright-keys"]
    old, new = old[n % len(old)], new[n % len(new)]   # both on the episode's clock
    assert np.allclose(track[:at], old[:at], atol=1e-7)                   # the old bed alone before
    assert np.allclose(track[at + fade:back], new[at + fade:back], atol=1e-7)   # the new one alone after the fade
    x = np.clip((n[at:at + fade] - at) / fade, 0, 1)[:, None] * np.pi / 2
    assert np.allclose(track[at:at + fade], np.cos(x) * old[at:at + fade] + np.sin(x) * new[at:at + fade], atol=1e-4)
    # no step at either boundary bigger than the music's own steps around it
    steps = np.abs(np.diff(track, axis=0))
    for edge in (at, back):
        assert (np.abs(track[edge] - track[edge - 1]) <= np.percentile(steps[edge - RATE:edge + RATE], 99.5, axis=0)).all()
    # the fade back to the pad from c (0.6 s) reaches on into d
    d = mixes[3]
    assert sorted((Path(b.file).name, b.fade_in is not None, b.fade_out is not None) for b in d.music) == [
        ("bright-keys.ogg", False, True), ("soft-pad.ogg", True, False)]


def test_changing_a_beds_rekeys_its_segment_and_where_its_fade_reaches(music_workspace):
    plan, _, before = planned(music_workspace, EPISODE)
    assert plan.timeline[2].duration < assemble.FADE < plan.timeline[3].duration
    keys = [t.key for t in before]
    _, _, after = planned(music_workspace, with_bed(EPISODE, "a", "pluck-arp"))
    changed = [i for i, (k, t) in enumerate(zip(keys, after)) if k != t.key]
    assert changed == [0, 1]   # a, and b: the fade from a's bed to the pad begins there
    _, _, after = planned(music_workspace, with_bed(EPISODE, "b", "pluck-arp"))
    changed = [i for i, (k, t) in enumerate(zip(keys, after)) if k != t.key]
    assert changed == [1, 2, 3]   # b, c where the fade back begins, and d, as c is shorter than the fade
    _, _, after = planned(music_workspace, with_bed(EPISODE, "c", "pluck-arp"))
    changed = [i for i, (k, t) in enumerate(zip(keys, after)) if k != t.key]
    assert changed == [2, 3]   # c (0.6 s) and d, where both fades (into c's bed and back) still sound
    # another bed elsewhere leaves these keys be: a's and e's bed did not change
    _, _, both = planned(music_workspace, with_bed(with_bed(EPISODE, "c", "pluck-arp"), "a", "bright-keys"))
    assert [t.key for t in both][3:] == [t.key for t in after][3:] and both[4].key == keys[4]
