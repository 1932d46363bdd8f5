"""ffmpeg/ffprobe helpers and the delivery encoding settings (see BILIBILI.md)."""
from __future__ import annotations

import functools
import json
import shutil
import subprocess

from .errors import StageError

AUDIO_RATE = 48_000


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise StageError(f"{name} not found", "install it with `apt-get install ffmpeg` (make setup does this)")
    return path


@functools.lru_cache(maxsize=None)
def ffmpeg_version() -> str:
    out = subprocess.run([_tool("ffmpeg"), "-version"], capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else "unknown"


def run_ffmpeg(args: list[str], what: str) -> None:
    """Run ffmpeg; on failure raise StageError with its stderr and a hint."""
    cmd = [_tool("ffmpeg"), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise StageError(f"ffmpeg failed while {what} (exit {proc.returncode})",
                         f"{tail}\ncommand: {' '.join(cmd)}\nhint: check that the input exists and that "
                         "ffmpeg was built with libx264 and libass (Debian's ffmpeg is)")


def ffmpeg_stderr(args: list[str]) -> str:
    """Run ffmpeg for what it reports (loudness measurements); return stderr."""
    proc = subprocess.run([_tool("ffmpeg"), "-hide_banner", "-nostdin", "-y", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise StageError("ffmpeg failed while measuring", proc.stderr.strip()[-2000:])
    return proc.stderr


def loudness(path) -> tuple[float, float]:
    """(integrated loudness in LUFS, true peak in dBTP) by EBU R128."""
    import re
    err = ffmpeg_stderr(["-i", str(path), "-map", "0:a:0", "-af", "ebur128=peak=true", "-f", "null", "-"])
    summary = err[err.rindex("Summary:"):]
    integrated = float(re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary).group(1))
    peak = float(re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))
    return integrated, peak


def probe(path) -> dict:
    proc = subprocess.run([_tool("ffprobe"), "-v", "error", "-print_format", "json", "-show_format",
                           "-show_streams", str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise StageError(f"ffprobe cannot read {path}", proc.stderr.strip())
    return json.loads(proc.stdout)


def is_valid_video(path) -> bool:
    """A cache entry that ffprobe cannot read (partial, corrupt) is a miss."""
    try:
        info = probe(path)
    except StageError:
        return False
    return any(s.get("codec_type") == "video" for s in info.get("streams", []))


def video_encode_args(fps: int, preview: bool) -> list[str]:
    """H.264 High, yuv420p, a keyframe every 2 s (Bilibili wants one at least
    every 10 s), peak bitrate well under the 60 Mbps limit."""
    return ["-c:v", "libx264", "-profile:v", "high", "-pix_fmt", "yuv420p",
            "-preset", "veryfast" if preview else "faster", "-crf", "23" if preview else "18",
            "-maxrate", "40M", "-bufsize", "80M", "-g", str(2 * fps), "-r", str(fps),
            "-video_track_timescale", str(fps * 1000)]


def audio_encode_args() -> list[str]:
    return ["-c:a", "aac", "-b:a", "192k", "-ar", str(AUDIO_RATE), "-ac", "2"]
