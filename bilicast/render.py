"""The runner: plans the stages of an episode, reuses what the cache holds,
renders the rest in parallel and writes the outputs."""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from . import animate, assemble, subtitles
from .cache import Cache, digest, file_hash, write_text_atomic
from .errors import StageError
from .media import ffmpeg_version, is_valid_video
from .script import PREVIEW, Script
from .timeline import plan_timeline, total_duration

from .workspace import ENGINE


@dataclass
class RenderSettings:
    width: int
    height: int
    fps: int
    preview: bool

    @classmethod
    def for_script(cls, script: Script, preview: bool) -> "RenderSettings":
        if preview:
            return cls(PREVIEW["width"], PREVIEW["height"], PREVIEW["fps"], True)
        w, h = script.episode.output.size
        return cls(w, h, script.episode.output.fps, False)


def _code_version(*files: Path) -> str:
    return digest([file_hash(f) for f in files])


def plan_segments(script: Script, scenes, settings: RenderSettings, cache: Cache) -> list[dict]:
    """One job per segment, keyed by everything that shapes its picture."""
    import manim

    timeline = plan_timeline(script, settings.fps)
    style = script.episode.style.model_dump()
    cues = subtitles.build_cues(timeline, script.episode.subtitles.max_chars)
    tools = {"manim": manim.__version__, "ffmpeg": ffmpeg_version()}
    engine_code = _code_version(ENGINE / "animate.py", ENGINE / "scenekit.py", ENGINE / "media.py")
    jobs = []
    for seg, timing in zip(script.segments, timeline):
        ass = ""
        if script.episode.subtitles.burn_in:
            seg_cues = subtitles.shift(cues, -timing.start, timing.start, timing.start + timing.duration)
            ass = subtitles.to_ass(seg_cues, (settings.width, settings.height), style["font"]) if seg_cues else ""
        scene_file = scenes.source_file(seg.scene)
        job = {
            "segment": seg.id, "scene_name": seg.scene, "scene_file": str(scene_file),
            "scene_class": seg.scene.split(".")[1], "params": seg.params, "timing": timing.for_scene(),
            "frames": timing.frames, "style": style, "width": settings.width, "height": settings.height,
            "fps": settings.fps, "preview": settings.preview, "ass": ass,
        }
        key = digest({"job": job, "scene_code": file_hash(scene_file), "engine": engine_code, "tools": tools})
        job["key"] = key
        job["slug"] = f"{seg.id}-{key[:16]}"
        job["target"] = str(cache.entry("segments", seg.id, key, "mp4"))
        job["media_dir"] = str(cache.root / "manim" / seg.id)
        jobs.append(job)
    return jobs


def _is_cached(job: dict) -> bool:
    path = Path(job["target"])
    if not path.exists():
        return False
    if is_valid_video(path):
        return True
    print(f"warning: cached segment {path.name} is unreadable; rendering it again", file=sys.stderr)
    path.unlink(missing_ok=True)
    return False


def render_episode(script: Script, scenes, out_root: Path, workspace: Path, preview: bool = False,
                   jobs: int | None = None) -> Path:
    """Render the episode; returns the output folder."""
    settings = RenderSettings.for_script(script, preview)
    cache = Cache(workspace / ".cache")
    todo_jobs = plan_segments(script, scenes, settings, cache)
    todo = [j for j in todo_jobs if not _is_cached(j)]
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo) or 1))
    if todo:
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool, \
                tqdm(total=len(todo), desc="render segments", unit="seg", file=sys.stderr) as bar:
            futures = {pool.submit(animate.build_segment, j): j for j in todo}
            try:
                for fut in cf.as_completed(futures):
                    fut.result()
                    bar.update(1)
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    print(f"segments: {len(todo_jobs) - len(todo)} cached, {len(todo)} rendered", file=sys.stderr)

    timeline = plan_timeline(script, settings.fps)
    duration = total_duration(timeline)
    out_dir = out_root / script.episode.id
    out_dir.mkdir(parents=True, exist_ok=True)
    audio = cache.entry("audio", script.episode.id, digest({"silence": duration}), "wav")
    if not audio.exists():
        assemble.build_audio(duration, audio)
    with tqdm(total=1, desc="assemble", file=sys.stderr) as bar:
        assemble.join([Path(j["target"]) for j in todo_jobs], audio, out_dir / "video.mp4")
        bar.update(1)
    cues = subtitles.build_cues(timeline, script.episode.subtitles.max_chars)
    write_text_atomic(out_dir / "subtitles.srt", subtitles.to_srt(cues))
    return out_dir


def describe_failure(e: StageError) -> str:
    return f"{e}\n{e.log}" if e.log else str(e)
