"""Test takes made from the voice itself: each line synthesized, joined with
pauses of random length, with room noise, and the true start of every line."""
from __future__ import annotations

import functools

import numpy as np

from bilicast import zhvoice
from bilicast.spoken import to_spoken

RATE = zhvoice.SAMPLE_RATE


@functools.lru_cache(maxsize=None)
def _voice():
    return zhvoice.Voice()


@functools.lru_cache(maxsize=None)
def speech(text: str) -> np.ndarray:
    return _voice().synthesize(to_spoken(text).text)


def make_take(texts: list[str], target, seed: int = 0, noise_db: float = -50.0, pauses=(0.2, 1.5),
              gain_db: float = 0.0) -> list[tuple[float, float]]:
    """Write a 24 kHz mono WAV saying `texts` in order; returns each text's
    (start, end) in seconds: where its voice becomes and stops being audible."""
    rng = np.random.default_rng(seed)
    pieces, spans, t = [np.zeros(int(0.5 * RATE), np.float32)], [], 0.5
    for text in texts:
        said = speech(text)
        loud = np.flatnonzero(np.abs(said) > 0.02)
        spans.append((t + loud[0] / RATE, t + (loud[-1] + 1) / RATE))
        gap = np.zeros(int(rng.uniform(*pauses) * RATE), np.float32)
        pieces += [said, gap]
        t += (len(said) + len(gap)) / RATE
    audio = np.concatenate(pieces) * 10 ** (gain_db / 20)
    # room noise: low-passed white noise plus a faint mains hum
    white = rng.standard_normal(len(audio)).astype(np.float32)
    room = np.convolve(white, np.ones(8, np.float32) / 8, mode="same")
    room *= 10 ** (noise_db / 20) / (np.sqrt((room ** 2).mean()) + 1e-9)
    hum = 10 ** ((noise_db - 6) / 20) * np.sin(2 * np.pi * 50 * np.arange(len(audio)) / RATE)
    zhvoice.write_wav(audio + room + hum.astype(np.float32), target)
    return spans
