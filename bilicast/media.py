"""ffmpeg/ffprobe helpers and the delivery encoding settings (see BILIBILI.md)."""
from __future__ import annotations

import functools
import json
import shutil
import subprocess

from .errors import StageError, disk_full_error
from .lifeline import die_with_parent

AUDIO_RATE = 48_000


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise StageError(f"{name} not found", "install it with `apt-get install ffmpeg` (make setup does this)")
    return path


@functools.lru_cache(maxsize=None)
def ffmpeg_version() -> str:
    out = subprocess.run([_tool("ffmpeg"), "-version"], capture_output=True, text=True,
                         preexec_fn=die_with_parent).stdout
    return out.splitlines()[0] if out else "unknown"


def run_ffmpeg(args: list[str], what: str) -> None:
    """Run ffmpeg; on failure raise StageError with its stderr and a hint."""
    cmd = [_tool("ffmpeg"), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=die_with_parent)
    if proc.returncode != 0:
        if "No space left on device" in proc.stderr or "File too large" in proc.stderr:
            raise disk_full_error(what)
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise StageError(f"ffmpeg failed while {what} (exit {proc.returncode})",
                         f"{tail}\ncommand: {' '.join(cmd)}\nhint: check that the input exists and that "
                         "ffmpeg was built with libx264 and libass (Debian's ffmpeg is)")


def ffmpeg_stderr(args: list[str]) -> str:
    """Run ffmpeg for what it reports (loudness measurements); return stderr."""
    proc = subprocess.run([_tool("ffmpeg"), "-hide_banner", "-nostdin", "-y", *args], capture_output=True,
                          text=True, preexec_fn=die_with_parent)
    if proc.returncode != 0:
        raise StageError("ffmpeg failed while measuring", proc.stderr.strip()[-2000:])
    return proc.stderr


def loudness(path, filters: str = "") -> tuple[float, float]:
    """(integrated loudness in LUFS, true peak in dBTP) by EBU R128, of the
    audio as it comes out of `filters` (ffmpeg audio filters, optional)."""
    import re
    chain = f"{filters},ebur128=peak=true" if filters else "ebur128=peak=true"
    err = ffmpeg_stderr(["-i", str(path), "-map", "0:a:0", "-af", chain, "-f", "null", "-"])
    summary = err[err.rindex("Summary:"):]
    integrated = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary)
    peak = re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    if integrated is None or peak is None:
        raise ValueError(f"no loudness in ffmpeg's summary: {summary}")
    return float(integrated.group(1)), float(peak.group(1))


def probe(path) -> dict:
    proc = subprocess.run([_tool("ffprobe"), "-v", "error", "-print_format", "json", "-show_format",
                           "-show_streams", str(path)], capture_output=True, text=True, preexec_fn=die_with_parent)
    if proc.returncode != 0:
        raise StageError(f"ffprobe cannot read {path}", proc.stderr.strip())
    return json.loads(proc.stdout)


def frame_count(path) -> int:
    """How many frames a video holds (its packets counted, nothing decoded)."""
    out = subprocess.run([_tool("ffprobe"), "-v", "error", "-select_streams", "v:0", "-count_packets",
                          "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, preexec_fn=die_with_parent)
    if out.returncode != 0 or not out.stdout.strip().isdigit():
        raise StageError(f"ffprobe cannot count the frames of {path}", out.stderr[-800:])
    return int(out.stdout.strip())


def top_level_boxes(path) -> tuple[list[str], bool]:
    """An MP4's top-level box names in file order, and whether the boxes add
    up exactly to the file size (a truncated file's do not)."""
    from pathlib import Path
    path = Path(path)
    size, pos = path.stat().st_size, 0
    names: list[str] = []
    with open(path, "rb") as f:
        while pos < size:
            f.seek(pos)
            head = f.read(16)
            if len(head) < 8:
                return names, False
            box = int.from_bytes(head[:4], "big")
            if box == 1:
                box = int.from_bytes(head[8:16], "big")
            if box < 8:   # 0 ("to the end of the file") never appears in files we write
                return names, False
            names.append(head[4:8].decode("latin-1"))
            pos += box
    return names, pos == size


def is_valid_video(path) -> bool:
    """Cheap structural check of an MP4 we wrote: complete top-level boxes,
    moov and mdat among them. (Writes are atomic, so this only has to catch
    damage done afterwards.)"""
    names, complete = top_level_boxes(path)
    return complete and {"moov", "mdat"} <= set(names)


def video_encode_args(fps: int, preview: bool) -> list[str]:
    """H.264 High, yuv420p, a keyframe every 2 s (Bilibili wants one at least
    every 10 s), peak bitrate well under the 60 Mbps limit."""
    return ["-c:v", "libx264", "-profile:v", "high", "-pix_fmt", "yuv420p",
            "-preset", "superfast", "-crf", "23" if preview else "18",
            "-maxrate", "40M", "-bufsize", "80M", "-g", str(2 * fps), "-r", str(fps),
            "-video_track_timescale", str(fps * 1000)]


def audio_encode_args() -> list[str]:
    # the "fast" coder: ~4x faster than the default at 192 kbps, where the difference isn't audible
    return ["-c:a", "aac", "-aac_coder", "fast", "-b:a", "192k", "-ar", str(AUDIO_RATE), "-ac", "2"]
