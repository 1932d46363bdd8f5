"""Assembly: the episode's audio track (MoviePy) and the final MP4 (finished
segments joined by ffmpeg without re-encoding the picture)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .cache import atomic_path
from .media import AUDIO_RATE, audio_encode_args, run_ffmpeg


def build_audio(duration: float, target: Path) -> None:
    """The episode's audio track as 48 kHz stereo WAV. Silent until narration
    audio exists; the final AAC is encoded once, in join()."""
    from moviepy import AudioClip

    def silence(t):
        return np.zeros((len(t), 2)) if np.ndim(t) else np.zeros(2)

    clip = AudioClip(silence, duration=duration, fps=AUDIO_RATE)
    with atomic_path(target) as tmp:
        clip.write_audiofile(str(tmp), fps=AUDIO_RATE, nbytes=2, codec="pcm_s16le", logger=None)


def join(segments: list[Path], audio: Path, target: Path) -> None:
    """Concatenate finished segments (stream copy: they share one encoding),
    add the audio as AAC, and put the moov atom first (+faststart)."""
    with tempfile.TemporaryDirectory(prefix="bilicast-") as tmp:
        listing = Path(tmp) / "segments.txt"
        listing.write_text("".join(f"file '{Path(p).resolve()}'\n" for p in segments), encoding="utf-8")
        with atomic_path(target) as out:
            run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(audio),
                        "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", *audio_encode_args(),
                        "-movflags", "+faststart", "-f", "mp4", str(out)], "joining the segments")
