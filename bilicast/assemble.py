"""Assembly: the episode's audio track (MoviePy mixes voice and ducked music;
ffmpeg normalizes loudness) and the final MP4 (finished segments joined by
ffmpeg without re-encoding the picture)."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from .cache import atomic_path
from .media import AUDIO_RATE, audio_encode_args, loudness, run_ffmpeg

LOUDNESS = {"I": -14.0, "TP": -2.0}   # Bilibili plays at -14 LUFS; peaks kept 1 dB under its -1 dBTP for AAC
DUCK_RAMP = 0.25                                     # seconds the music takes to dip and recover


def _presence(t, intervals):
    """0..1: how much the voice is speaking at time(s) t, with soft ramps."""
    t = np.atleast_1d(np.asarray(t, dtype=float))
    p = np.zeros_like(t)
    for start, end in intervals:
        rise = np.clip((t - (start - DUCK_RAMP)) / DUCK_RAMP, 0, 1)
        fall = np.clip(((end + DUCK_RAMP) - t) / DUCK_RAMP, 0, 1)
        p = np.maximum(p, np.minimum(rise, fall))
    return p


def build_audio(duration: float, voice: list[tuple[Path, float]], target: Path, music=None) -> None:
    """Mix voice clips (path, start seconds) and optional music (path, volume,
    duck) into a 48 kHz stereo WAV of exactly `duration`; normalize loudness
    to -14 LUFS / -1.5 dBTP when there is anything to hear."""
    from moviepy import AudioClip, AudioFileClip, CompositeAudioClip, afx

    def silence(t):
        return np.zeros((len(t), 2)) if np.ndim(t) else np.zeros(2)

    clips = [AudioClip(silence, duration=duration, fps=AUDIO_RATE)]
    intervals = []
    for path, start in voice:
        clip = AudioFileClip(str(path)).with_start(start)
        intervals.append((start, start + clip.duration))
        clips.append(clip)
    if music:
        path, volume, duck = music
        bgm = AudioFileClip(str(path)).with_effects([afx.AudioLoop(duration=duration)])

        def gain(get_frame, t):
            g = volume * (1 - _presence(t, intervals) * (1 - duck))
            return get_frame(t) * (g[:, None] if np.ndim(t) else g[0])
        clips.append(bgm.transform(gain, keep_duration=True))
    mix = CompositeAudioClip(clips).with_duration(duration)
    with tempfile.TemporaryDirectory(prefix="bilicast-") as tmp:
        raw = Path(tmp) / "mix.wav"
        mix.write_audiofile(str(raw), fps=AUDIO_RATE, nbytes=2, codec="pcm_s16le", logger=None)
        for clip in clips:
            clip.close()
        with atomic_path(target) as out:
            if voice or music:
                normalize_loudness(raw, out)
            else:
                raw.replace(out)


def normalize_loudness(source: Path, target: Path) -> None:
    """EBU R128 measurement, then a gain to -14 LUFS; where that gain would push
    peaks over the ceiling, a limiter holds them under it, and one more
    measurement makes up the loudness the limiter took. (ffmpeg's two-pass
    loudnorm does the job several times slower: it resamples to 192 kHz.)"""
    integrated, peak = loudness(source)
    if integrated == float("-inf"):
        shutil.copyfile(source, target)   # digital silence: nothing to normalize
        return
    gain = LOUDNESS["I"] - integrated
    _apply_gain(source, target, gain, limit=peak + gain > LOUDNESS["TP"])
    if peak + gain > LOUDNESS["TP"]:
        shortfall = LOUDNESS["I"] - loudness(target)[0]
        if abs(shortfall) > 0.2:
            _apply_gain(source, target, gain + shortfall, limit=True)


def _apply_gain(source: Path, target: Path, gain_db: float, limit: bool) -> None:
    filters = [f"volume={gain_db:.2f}dB"]
    if limit:
        filters.append(f"alimiter=limit={10 ** (LOUDNESS['TP'] / 20):.4f}:attack=1:release=60:level=0")
    run_ffmpeg(["-i", str(source), "-af", ",".join(filters), "-ar", str(AUDIO_RATE), "-ac", "2", "-c:a", "pcm_s16le",
                "-f", "wav", str(target)], "normalizing loudness")


def encode_audio(wav: Path, target: Path) -> None:
    """The AAC track, encoded once per mix (joins then copy it)."""
    with atomic_path(target) as out:
        run_ffmpeg(["-i", str(wav), *audio_encode_args(), "-f", "mp4", str(out)], "encoding the audio")


def join(parts: list[Path | tuple[Path, float]], audio: Path, target: Path) -> None:
    """Concatenate finished segments (a part may be (file, seconds to skip),
    starting on a keyframe: see transitions.py) and add the encoded audio,
    both by stream copy (the parts share one encoding), with the moov atom
    first (+faststart)."""
    with tempfile.TemporaryDirectory(prefix="bilicast-") as tmp:
        listing = Path(tmp) / "segments.txt"
        lines = []
        for part in parts:
            path, skip = part if isinstance(part, tuple) else (part, 0.0)
            lines.append(f"file '{Path(path).resolve()}'\n" + (f"inpoint {skip:.6f}\n" if skip else ""))
        listing.write_text("".join(lines), encoding="utf-8")
        with atomic_path(target) as out:
            run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(audio),
                        "-map", "0:v:0", "-map", "1:a:0", "-c", "copy", "-movflags", "+faststart", "-f", "mp4",
                        str(out)], "joining the segments")
