"""Synthesizes the music beds in assets/music/ (numpy alone; ffmpeg encodes
them as Ogg Vorbis). Nothing is sampled or downloaded: the channel owns them
outright (assets/music/LICENSE: CC0). docs/music.md shows and measures them.

    soft-pad.ogg     A (I-bVII-bVI-bVII), 60 bpm (a chord a 4-second bar), 16 s:
                     a warm pad of sines and their octaves (tools/make_music.py's
                     recipe, made again here sample for sample: episodes use it)
    pluck-arp.ogg    C minor (i-bVI-bIII-bVII), 90 bpm, 8 bars, 21.3 s: a plucked
                     string (decaying harmonics) in sixteenth-note arpeggios over
                     a plucked bass, with a circular echo
    bright-keys.ogg  D major (I-vi-IV-V-ii-V), 120 bpm, 12 bars, 24 s: an FM
                     electric piano (bright tine partial) comping on the offbeats,
                     a bell line in eighths, a sine bass

Each bed loops without a click: every note is rendered whole and what rings
past the bed's end is folded onto its beginning (as it would ring there when
the bed repeats), and the echo wraps around the same way, so the bed is one
period of a periodic signal. Its mean (DC) is taken out and it is scaled to
the same integrated loudness as soft-pad (-14 LUFS), with its true peak kept
at or under -1.5 dBTP.

    .venv/bin/python tools/make_music_beds.py            # the beds
    .venv/bin/python tools/make_music_beds.py --pictures # and docs/music/<bed>.png

A bed whose decoded samples come out as they are in the file already is left
alone (an Ogg stream's serial number is random: rewriting an unchanged bed
would change its file hash, which the mixes' cache keys hold).
"""
from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MUSIC = ROOT / "assets" / "music"
PICTURES = ROOT / "docs" / "music"
RATE = 48_000
TARGET_LUFS = -14.0
MAX_PEAK_DB = -1.5


def hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def fold(buffer: np.ndarray, length: int) -> np.ndarray:
    """A buffer longer than the loop, its overhang added onto the loop's
    beginning (the tails that ring into the next repeat)."""
    out = np.zeros((length,) + buffer.shape[1:])
    for at in range(0, len(buffer), length):
        piece = buffer[at:at + length]
        out[:len(piece)] += piece
    return out


def place(buffer: np.ndarray, note: np.ndarray, at: int, pan: float) -> None:
    """Add a mono note into a stereo buffer at sample `at` (pan -1..1, equal power)."""
    angle = (pan + 1) * np.pi / 4
    buffer[at:at + len(note), 0] += note * np.cos(angle)
    buffer[at:at + len(note), 1] += note * np.sin(angle)


def ending(n: int, release: float = 0.05) -> np.ndarray:
    """An envelope that is 1 until the last `release` seconds, then falls to 0
    (a note's rendered window ends in silence, never mid-wave)."""
    env = np.ones(n)
    r = int(release * RATE)
    env[-r:] = np.cos(np.linspace(0, np.pi / 2, r)) ** 2
    return env


def pluck(freq: float, seconds: float = 2.5, brightness: float = 1.0) -> np.ndarray:
    """A plucked string: harmonics shaped by the plucking point, the higher
    ones dying faster, a 3 ms attack."""
    t = np.arange(int(seconds * RATE)) / RATE
    out = np.zeros_like(t)
    for k in range(1, 16):
        if k * freq > 16_000:
            break
        amp = abs(np.sin(np.pi * k * 0.18)) / k ** (2.2 - 0.4 * brightness)
        out += amp * np.sin(2 * np.pi * k * freq * t) * np.exp(-t * (1.6 + 2.0 * k))
    return out * np.minimum(1, t / 0.003) * ending(len(t))


def epiano(freq: float, seconds: float = 2.0) -> np.ndarray:
    """An FM electric piano: a 1:1 modulator whose index falls as the note
    sounds (bright attack, mellow body), and a high tine partial (14x) that
    rings for a moment."""
    t = np.arange(int(seconds * RATE)) / RATE
    index = 0.25 + 1.6 * np.exp(-t * 5.0)
    body = np.sin(2 * np.pi * freq * t + index * np.sin(2 * np.pi * freq * t)) * np.exp(-t * 1.4)
    tine = 0.3 * np.sin(2 * np.pi * 14 * freq * t) * np.exp(-t * 20) if 14 * freq < 18_000 else 0
    return (body + tine) * np.minimum(1, t / 0.002) * ending(len(t))


def bell(freq: float, seconds: float = 2.5) -> np.ndarray:
    """A small bell: inharmonic partials (1, 2.76, 5.4, 8.9) dying at their own rates."""
    t = np.arange(int(seconds * RATE)) / RATE
    out = np.zeros_like(t)
    for ratio, amp, decay in ((1.0, 1.0, 1.8), (2.76, 0.5, 3.5), (5.4, 0.25, 7.0), (8.93, 0.12, 12.0)):
        if ratio * freq > 18_000:
            break
        out += amp * np.sin(2 * np.pi * ratio * freq * t) * np.exp(-t * decay)
    return out * np.minimum(1, t / 0.001) * ending(len(t))


def sine_bass(freq: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    tone = np.sin(2 * np.pi * freq * t) + 0.25 * np.sin(2 * np.pi * 2 * freq * t)
    return tone * np.minimum(1, t / 0.01) * np.exp(-t * 0.8) * ending(len(t), 0.15)


def echo(x: np.ndarray, delay: int, feedback: float, repeats: int = 6, cross: bool = True) -> np.ndarray:
    """Circular echo: delayed copies wrap around the loop (np.roll), so the
    bed stays periodic; with `cross`, each repeat swaps sides (ping-pong)."""
    out, tap = x.copy(), x
    for n in range(repeats):
        tap = np.roll(tap, delay, axis=0) * feedback
        out += tap[:, ::-1] if cross and n % 2 == 0 else tap
    return out


def soft_pad() -> np.ndarray:
    """tools/make_music.py's pad (A, G, F, G: a chord every four seconds)."""
    spec = importlib.util.spec_from_file_location("make_music", ROOT / "tools" / "make_music.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.pad()


def pluck_arp() -> np.ndarray:
    """C minor at 90 bpm: Cm, Ab, Eb, Bb, two bars each, in sixteenths."""
    beat = RATE * 60 // 90                       # 32000 samples
    length = 8 * 4 * beat
    chords = [(60, 63, 67), (56, 60, 63), (63, 67, 70), (58, 62, 65)]   # Cm, Ab, Eb, Bb (root position)
    shape = [0, 1, 2, 3, 4, 3, 2, 1, 0, 2, 4, 2, 3, 1, 2, 1]             # through two octaves of the chord
    buffer = np.zeros((length + 4 * RATE, 2))
    for bar in range(8):
        root, third, fifth = chords[bar // 2]
        tones = [root, third, fifth, root + 12, third + 12]
        for step, which in enumerate(shape):
            at = bar * 4 * beat + step * beat // 4
            accent = 1.0 if step % 4 == 0 else 0.7
            place(buffer, 0.5 * accent * pluck(hz(tones[which])),
                  at, pan=0.35 * np.sin(2 * np.pi * step / 16))
        for half in range(2):   # the bass: the root, twice a bar
            place(buffer, 0.6 * pluck(hz(root - 24), 3.0, brightness=0.3), bar * 4 * beat + half * 2 * beat, 0.0)
    return echo(fold(buffer, length), 3 * beat // 4, 0.35)


def bright_keys() -> np.ndarray:
    """D major at 120 bpm: D, Bm, G, A, Em, A, two bars each."""
    beat = RATE * 60 // 120                      # 24000 samples
    length = 12 * 4 * beat
    chords = [(62, 66, 69), (59, 62, 66), (55, 59, 62), (57, 61, 64), (52, 55, 59), (57, 61, 64)]
    buffer = np.zeros((length + 4 * RATE, 2))
    eighth = beat // 2
    comp = [0, 3, 6]            # eighths of a bar the chord is struck on: 1, 2-and, 4
    line = [2, 1, 0, 1, 2, 3, 4, 3]   # the bell's chord tones through the bar (index into the voicing)
    for bar in range(12):
        chord = chords[bar // 2]
        voicing = [chord[0] + 12, chord[1] + 12, chord[2] + 12, chord[0] + 24, chord[1] + 24]
        start = bar * 4 * beat
        for e in comp:
            for n, note in enumerate(chord):
                place(buffer, 0.22 * epiano(hz(note + 12)), start + e * eighth + 120 * n, pan=-0.4 + 0.4 * n)
        for e, which in enumerate(line):
            if (bar + e) % 3 != 2:   # a bell line with gaps
                place(buffer, 0.25 * bell(hz(voicing[which] + 12 * (e >= 4 and bar % 2 == 0) - 12)),
                      start + e * eighth, pan=0.5 if e % 2 else 0.2)
        for half in range(2):
            place(buffer, 0.45 * sine_bass(hz(chord[0] - 12), 2.2), start + half * 2 * beat, 0.0)
    return echo(fold(buffer, length), 3 * eighth, 0.25, cross=True)


BEDS = {   # name: (how it is made, Vorbis quality, the samples as 16-bit: make_music.py's way)
    "soft-pad": (soft_pad, 3, True),
    "pluck-arp": (pluck_arp, 4, False),
    "bright-keys": (bright_keys, 4, False),
}


def loudness(x: np.ndarray) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP), measured as the
    renders do (bilicast.assemble: BS.1770)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bilicast import assemble
    power, peak = assemble.measure(x, assemble.BIN)
    assert peak is not None
    return assemble.integrated_loudness(assemble.episode_bins([power], assemble.BIN)), peak


def levelled(x: np.ndarray) -> np.ndarray:
    """Mean taken out per channel (a constant: the bed stays periodic), then
    scaled to TARGET_LUFS unless that would put its true peak over MAX_PEAK_DB."""
    x = x - x.mean(axis=0)
    lufs, peak = loudness(x)
    gain_db = min(TARGET_LUFS - lufs, MAX_PEAK_DB - peak)
    return x * 10 ** (gain_db / 20)


def encode(samples: np.ndarray, quality: int, as_16bit: bool, target: Path) -> None:
    fmt, data = ("s16le", (samples * 32767).astype("<i2")) if as_16bit else ("f32le", samples.astype("<f4"))
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", fmt, "-ar", str(RATE), "-ac", "2", "-i", "pipe:",
                    "-c:a", "libvorbis", "-q:a", str(quality), "-fflags", "+bitexact", "-flags:a", "+bitexact",
                    str(target)], input=np.ascontiguousarray(data).tobytes(), check=True)


def decoded(path: Path) -> np.ndarray:
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "f32le", "-ar", str(RATE), "-ac", "2",
                          "-"], capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype="<f4").reshape(-1, 2)


SPECTROGRAM = ("aresample=12000,showspectrumpic=s=640x320:mode=combined:scale=log:drange=90:color=intensity:legend=1,"
               "split[a][b];[a]palettegen=max_colors=96[p];[b][p]paletteuse=dither=none")


def picture(bed: Path, target: Path) -> None:
    """The bed's spectrogram, 0-6 kHz on a linear scale (the notes and their
    overtones; showspectrumpic's window is too short for a log scale to show
    the bass), log intensity over 90 dB, in 96 colours (under 150 KB)."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(bed), "-lavfi", SPECTROGRAM, "-frames:v", "1",
                    str(target)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pictures", action="store_true", help="also draw docs/music/<bed>.png")
    args = parser.parse_args()
    MUSIC.mkdir(parents=True, exist_ok=True)
    for name, (make, quality, as_16bit) in BEDS.items():
        target = MUSIC / f"{name}.ogg"
        samples = make() if as_16bit else levelled(make())   # soft-pad: as make_music.py writes it
        with tempfile.TemporaryDirectory() as tmp:
            fresh = Path(tmp) / target.name
            encode(samples, quality, as_16bit, fresh)
            if target.exists() and np.array_equal(decoded(fresh), decoded(target)):
                state = "unchanged"
            else:
                fresh.replace(target)
                state = "written"
        lufs, peak = loudness(decoded(target).astype(np.float64))
        print(f"{target.relative_to(ROOT)}: {state}, {len(samples) / RATE:.2f} s, "
              f"{target.stat().st_size / 1024:.0f} KiB, {lufs:.1f} LUFS, {peak:.1f} dBTP")
        if args.pictures:
            PICTURES.mkdir(parents=True, exist_ok=True)
            picture(target, PICTURES / f"{name}.png")


if __name__ == "__main__":
    main()
