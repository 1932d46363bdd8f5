"""Segment stage: Manim renders the scene's animation (one frame per hold,
cached by what shapes the picture: not the segment's timing), ffmpeg
finishes it at the delivery spec (holds expanded to the timing, exact frame
count, overlay, burned-in subtitles). A segment whose animation is cached is
only finished, in the main process; the others run in worker processes, one
segment per call, because Manim's config is process-global."""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
import traceback
import uuid
from pathlib import Path

from .cache import atomic_path, usable, write_text_atomic
from .errors import StageError, disk_full, disk_full_error
from .lifeline import fault
from .media import is_valid_video, run_ffmpeg, video_encode_args
from .transitions import keyframe_args
from .scenekit import hold_target
from .variants import BUILTIN


def render_scene(job: dict, media: Path) -> tuple[Path, list, list]:
    """Render one segment's scene with Manim; return the raw movie path, its
    holds (frame index, extra copies) and the texts of its final picture
    (bilicast.legible)."""
    import manim
    from manim import tempconfig

    from .scenekit import load_scene_class

    logging.getLogger("manim").setLevel(logging.ERROR)
    scene_cls = load_scene_class(job["scene_file"], job["scene_class"])
    settings = {
        "pixel_width": job["width"], "pixel_height": job["height"], "frame_rate": job["fps"],
        "media_dir": str(media), "output_file": job["slug"], "progress_bar": "none",
        "verbosity": "ERROR", "disable_caching": True,
        # Manim's file is an intermediate (finish_segment encodes the delivery file):
        # encode it fast and nearly lossless instead of Manim's default medium/crf 23.
        "video_encoder_options": {"preset": "ultrafast", "crf": "12"}, "write_to_movie": True, "format": "mp4",
    }
    with tempconfig(settings):
        frame = BUILTIN[job.get("variant", "main")].frame(job["width"], job["height"])
        manim.config.frame_width, manim.config.frame_height = frame.width, frame.height
        timing = job["timing"]
        if not timing.get("render_holds"):   # what the animation's key covers (see BilicastScene.timing)
            timing = {"beats": {k: [None, run] for k, (_, run) in timing["beats"].items()}}
        scene = scene_cls(params=job["params"], timing=timing, style=job["style"], files=job.get("files"), frame=frame)
        fault("manim")
        scene.render()
        return Path(scene.renderer.file_writer.movie_file_path), scene.holds, scene.layout


def hold_frames(holds: list, timing: dict, fps: int) -> list[tuple[int, int]]:
    """For each held frame of the animation (index, until what): how many
    times it shows in the segment (0: not at all, the next beat starts at
    once). Holds last until their target time on the segment's clock."""
    shown, after, copies = 0, 0, []   # frames shown so far; the animation frame after the last hold
    for index, event in holds:
        shown += index - after
        n = max(0, round((hold_target(timing, event, fps) - shown / fps) * fps))
        copies.append((index, n))
        shown, after = shown + n, index + 1
    return copies


def finish_segment(raw: Path, holds: list, job: dict, target: Path, scratch: Path) -> None:
    """Re-encode to the delivery spec: expand the holds (one rendered frame
    repeated), make exactly the planned frame count, composite the chart
    overlay if any, and burn in subtitles."""
    inputs = ["-i", str(raw)]
    filters, dropped, added = [], [], 0
    copies = hold_frames(holds, job["timing"], job["fps"])
    for index, n in copies:
        if n == 0:
            dropped.append(f"eq(n,{index})")
    if dropped:
        filters.append(f"select='not({'+'.join(dropped)})'")
    for index, n in copies:   # earlier frames shift later ones by what they added or dropped
        if n == 0:
            added -= 1
        elif n > 1:
            filters.append(f"loop=loop={n - 1}:size=1:start={index + added}")
            added += n - 1
    graph = ("[0:v]" + "".join(f"{x}," for x in filters) + f"setpts=N/({job['fps']}*TB),"
             f"tpad=stop_mode=clone:stop_duration={job['timing']['duration'] + 1:.3f}[v0]")
    last = "v0"
    overlay = job.get("overlay")
    if overlay:
        inputs += ["-loop", "1", "-i", overlay["png"]]
        start = overlay["start"]
        graph += (f";[1:v]format=rgba,fade=t=in:st={start:.3f}:d=0.4:alpha=1[ov]"
                  f";[v0][ov]overlay=x={overlay['x']}:y={overlay['y']}:enable='gte(t,{start:.3f})'[v1]")
        last = "v1"
    if job["ass"]:   # the subtitle file lives in the segment's scratch folder (removed with it)
        ass_file = scratch / "subs.ass"
        ass_file.write_text(job["ass"], encoding="utf-8")
        graph += f";[{last}]ass=filename={ass_file}[v2]"
        last = "v2"
    with atomic_path(target) as out:
        fault("finish")
        run_ffmpeg([*inputs, "-filter_complex", graph, "-map", f"[{last}]", "-frames:v", str(job["frames"]),
                    "-an", *video_encode_args(job["fps"], job["preview"]), *keyframe_args(job["fps"]),
                    "-f", "mp4", str(out)],
                   f"encoding segment '{job['segment']}'")


def animation_is_cached(job: dict) -> bool:
    raw = Path(job["raw"])
    return raw.with_suffix(".json").exists() and usable(raw, is_valid_video)


def build_segment(job: dict) -> float:
    """Renders the animation unless cached, then finishes the segment;
    returns the seconds it took, or raises StageError carrying the log."""
    target, raw = Path(job["target"]), Path(job["raw"])
    started = time.monotonic()
    # Manim's scratch files go to a folder of this run alone, so two renders
    # of the same episode at once never write the same partial files.
    scratch = Path(job["scratch"]) / f"{job['segment']}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    scratch.mkdir(parents=True)
    try:
        if not animation_is_cached(job):
            movie, holds, _ = render_scene(job, scratch)
            write_text_atomic(raw.with_suffix(".json"), json.dumps({"holds": holds}))
            with atomic_path(raw) as out:   # the holds first: a movie without them is never used
                shutil.move(movie, out)
        holds = json.loads(raw.with_suffix(".json").read_text(encoding="utf-8"))["holds"]
        finish_segment(raw, holds, job, target, scratch)
    except StageError:
        raise
    except Exception as e:   # a full disk, or a scene bug: report it with the scene's traceback
        if disk_full(e):
            raise disk_full_error(f"rendering segment '{job['segment']}'") from None
        raise StageError(f"scene {job['scene_name']} failed in segment '{job['segment']}': {e}",
                         traceback.format_exc()) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return time.monotonic() - started
