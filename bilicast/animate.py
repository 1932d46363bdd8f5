"""Segment stage: Manim renders the scene's animation (one frame per hold,
cached by what shapes the picture: not the segment's timing), then
finish.py finishes it with ffmpeg. A segment whose animation is cached is
only finished, in the main process; the others run in worker processes, one
segment per call, because Manim's config is process-global."""
from __future__ import annotations

import logging
import os
import shutil
import time
import traceback
import uuid
from pathlib import Path

from . import variants
from .cache import atomic_path, usable, write_text_atomic
from .contracts import AnimationRecord, SegmentJob
from .errors import StageError, disk_full, disk_full_error
from .finish import finish_segment
from .lifeline import fault
from .media import frame_count, is_valid_video


def render_scene(job: SegmentJob, media: Path) -> tuple[Path, list[tuple[int, str]], list[dict]]:
    """Render one segment's scene with Manim; return the raw movie path, its
    holds (frame index, extra copies) and the texts of its final picture
    (bilicast.legible)."""
    import manim
    from manim import tempconfig

    from .scenekit import load_scene_class

    logging.getLogger("manim").setLevel(logging.ERROR)
    scene_cls = load_scene_class(job.scene_file, job.scene_class)
    settings = {
        "pixel_width": job.width, "pixel_height": job.height, "frame_rate": job.fps,
        "media_dir": str(media), "output_file": job.slug, "progress_bar": "none",
        "verbosity": "ERROR", "disable_caching": True,
        # Manim's file is an intermediate (finish_segment encodes the delivery file):
        # encode it fast and nearly lossless instead of Manim's default medium/crf 23.
        "video_encoder_options": {"preset": "ultrafast", "crf": "12"}, "write_to_movie": True, "format": "mp4",
    }
    with tempconfig(settings):
        workspace = Path(job.scene_file).parent.parent   # scenes are <workspace>/scenes/*.py
        frame = variants.get(job.variant, workspace).frame(job.width, job.height)
        manim.config.frame_width, manim.config.frame_height = frame.width, frame.height
        timing = job.timing
        if not timing.get("render_holds"):   # what the animation's key covers (see BilicastScene.timing)
            timing = {"beats": {k: [None, run] for k, (_, run) in timing["beats"].items()}}
        scene = scene_cls(params=job.params, timing=timing, style=job.style, files=job.files, frame=frame)
        fault("manim")
        scene.render()
        return Path(scene.renderer.file_writer.movie_file_path), scene.holds, scene.layout


def animation_is_cached(job: SegmentJob) -> bool:
    raw = Path(job.raw)
    return AnimationRecord.path(raw).exists() and usable(raw, is_valid_video)


def build_segment(job: SegmentJob) -> float:
    """Renders the animation unless cached, then finishes the segment;
    returns the seconds it took, or raises StageError carrying the log."""
    target, raw = Path(job.target), Path(job.raw)
    started = time.monotonic()
    # Manim's scratch files go to a folder of this run alone, so two renders
    # of the same episode at once never write the same partial files.
    scratch = Path(job.scratch) / f"{job.segment}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    scratch.mkdir(parents=True)
    try:
        if not animation_is_cached(job):
            movie, holds, texts = render_scene(job, scratch)
            write_text_atomic(AnimationRecord.path(raw), AnimationRecord(holds, frame_count(movie), texts).to_json())
            with atomic_path(raw) as out:   # the holds first: a movie without them is never used
                shutil.move(movie, out)
        made = AnimationRecord.read(raw)
        finish_segment(raw, made.holds, made.frames, job, target, scratch)
    except StageError:
        raise
    except Exception as e:   # a full disk, or a scene bug: report it with the scene's traceback
        if disk_full(e):
            raise disk_full_error(f"rendering segment '{job.segment}'") from None
        raise StageError(f"scene {job.scene_name} failed in segment '{job.segment}': {e}",
                         traceback.format_exc()) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return time.monotonic() - started
