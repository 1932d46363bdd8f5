"""Synthesizes assets/music/soft-pad.ogg: a quiet, loopable 16-second chord pad
(made here from sine waves, so the channel owns it outright).

    .venv/bin/python tools/make_music.py
"""
import subprocess
import wave
from pathlib import Path

import numpy as np

RATE = 48_000
CHORDS = [(220.00, 277.18, 329.63), (196.00, 246.94, 293.66), (174.61, 220.00, 261.63), (196.00, 246.94, 329.63)]


def pad() -> np.ndarray:
    beat = 4.0
    t = np.arange(int(RATE * beat)) / RATE
    env = np.minimum(1, t / 0.8) * np.minimum(1, (beat - t) / 0.8)   # soft attack and release
    parts = []
    for chord in CHORDS:
        tone = sum(np.sin(2 * np.pi * f * t) + 0.3 * np.sin(2 * np.pi * 2 * f * t + 0.5) for f in chord)
        parts.append(tone * env)
    mono = np.concatenate(parts)
    mono = mono / np.abs(mono).max() * 0.5
    left = mono
    right = np.roll(mono, int(0.012 * RATE))   # a little width
    return np.stack([left, right], axis=1)


def main() -> None:
    out = Path(__file__).resolve().parents[1] / "assets" / "music" / "soft-pad.ogg"
    wav = out.with_suffix(".wav")
    data = (pad() * 32767).astype("<i2")
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(data.tobytes())
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-c:a", "libvorbis", "-q:a", "3", str(out)],
                   check=True)
    wav.unlink()
    print(out)


if __name__ == "__main__":
    main()
