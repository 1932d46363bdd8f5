"""The runner: plans the stages of an episode, reuses what the cache holds,
renders the rest in parallel and writes the bundle."""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from . import animate, assemble, narrate, publish, subtitles
from .cache import Cache, digest, file_hash, write_text_atomic
from .media import ffmpeg_version, is_valid_video, run_ffmpeg
from .script import PREVIEW, Script
from .timeline import SegmentTiming, plan_timeline, total_duration
from .workspace import ENGINE

SUBTITLE_FORMATS = ("srt", "ass", "bcc")


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


@dataclass
class Plan:
    """Everything later stages read: one timeline for picture, voice and subtitles."""
    script: Script
    workspace: Path
    settings: RenderSettings
    cache: Cache
    line_audio: dict
    timeline: list[SegmentTiming]
    cues: list[subtitles.Cue]

    @property
    def duration(self) -> float:
        return total_duration(self.timeline)


def make_plan(script: Script, workspace: Path, preview: bool = False) -> Plan:
    settings = RenderSettings.for_script(script, preview)
    cache = Cache(workspace / ".cache")
    voiced = sum(1 for s in script.segments for _ in s.narration)
    with tqdm(total=voiced, desc="narration", unit="line", file=sys.stderr, leave=False) as bar:
        line_audio = narrate.prepare(script, workspace, cache, progress=lambda: bar.update(1))
    timeline = plan_timeline(script, settings.fps, {k: a.seconds for k, a in line_audio.items()})
    cues = subtitles.build_cues(timeline, script.episode.subtitles.max_chars)
    return Plan(script, workspace, settings, cache, line_audio, timeline, cues)


def _code_version(*files: Path) -> str:
    return digest([file_hash(f) for f in files])


def plan_segments(plan: Plan, scenes) -> list[dict]:
    """One job per segment, keyed by everything that shapes its picture."""
    import manim

    script, settings = plan.script, plan.settings
    style = script.episode.style.model_dump()
    tools = {"manim": manim.__version__, "ffmpeg": ffmpeg_version()}
    engine_code = _code_version(ENGINE / "animate.py", ENGINE / "scenekit.py", ENGINE / "media.py")
    jobs = []
    for seg, timing in zip(script.segments, plan.timeline):
        ass = ""
        if script.episode.subtitles.burn_in:
            seg_cues = subtitles.shift(plan.cues, -timing.start, timing.start, timing.start + timing.duration)
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
        job["target"] = str(plan.cache.entry("segments", seg.id, key, "mp4"))
        job["media_dir"] = str(plan.cache.root / "manim" / seg.id)
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


def _render_segments(todo: list[dict], jobs: int | None) -> None:
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool, \
            tqdm(total=len(todo), desc="render segments", unit="seg", file=sys.stderr) as bar:
        futures = [pool.submit(animate.build_segment, j) for j in todo]
        try:
            for fut in cf.as_completed(futures):
                fut.result()
                bar.update(1)
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def build_audio_track(plan: Plan) -> Path:
    """The mixed, loudness-normalized episode audio (cached by its inputs)."""
    script = plan.script
    voice = [(a.path, plan.timeline[i].start + plan.timeline[i].lines[j].start)
             for (i, j), a in sorted(plan.line_audio.items())]
    music = None
    if script.episode.music:
        m = script.episode.music
        music = (plan.workspace / m.file, m.volume, m.duck)
    key = digest({"duration": plan.duration, "voice": [(str(p), round(t, 4)) for p, t in voice],
                  "music": music and [file_hash(music[0]), music[1], music[2]], "loudness": assemble.LOUDNESS,
                  "code": file_hash(ENGINE / "assemble.py")})
    target = plan.cache.entry("audio", script.episode.id, key, "wav")
    if not target.exists():
        assemble.build_audio(plan.duration, voice, target, music)
    return target


def write_subtitles(plan: Plan, out_dir: Path, formats=SUBTITLE_FORMATS) -> list[Path]:
    size = (plan.settings.width, plan.settings.height)
    style = plan.script.episode.style
    writers = {
        "srt": ("subtitles.srt", lambda: subtitles.to_srt(plan.cues)),
        "ass": ("subtitles.ass", lambda: subtitles.to_ass(plan.cues, size, style.font)),
        "bcc": ("subtitles.bcc.json", lambda: subtitles.to_bcc(plan.cues)),
    }
    written = []
    for fmt in formats:
        name, make = writers[fmt]
        write_text_atomic(out_dir / name, make())
        written.append(out_dir / name)
    return written


def write_cover(plan: Plan, out_dir: Path, video: Path | None = None) -> list[Path]:
    """Cover from the theme, or from a frame of the chosen segment (needs the video)."""
    import tempfile

    from PIL import Image

    from .cover import make_cover
    spec = plan.script.episode.cover
    background = None
    if spec.background.startswith("segment:") and video and video.exists():
        index = [s.id for s in plan.script.segments].index(spec.background[8:])
        seg = plan.timeline[index]
        with tempfile.TemporaryDirectory(prefix="bilicast-") as tmp:
            frame = Path(tmp) / "frame.png"
            # the segment's last moment: its picture is complete and no subtitle is on screen
            run_ffmpeg(["-ss", f"{seg.start + seg.duration - 0.25:.3f}", "-i", str(video), "-frames:v", "1",
                        str(frame)], "grabbing the cover frame")
            background = Image.open(frame).copy()
    elif spec.background.startswith("segment:"):
        print("note: the cover uses the theme background until the video is rendered", file=sys.stderr)
    return make_cover(plan.script.episode.style, spec.title or plan.script.episode.title, spec.badge, background,
                      out_dir)


def write_publish(plan: Plan, out_dir: Path) -> None:
    desc = publish.description(plan.script, plan.timeline)
    write_text_atomic(out_dir / "description.txt", desc)
    write_text_atomic(out_dir / "upload.yaml", publish.upload_yaml(plan.script, desc))


def render_episode(script: Script, scenes, out_root: Path, workspace: Path, preview: bool = False,
                   jobs: int | None = None) -> Path:
    """Render the episode and its whole upload bundle; returns the output folder."""
    plan = make_plan(script, workspace, preview)
    segment_jobs = plan_segments(plan, scenes)
    todo = [j for j in segment_jobs if not _is_cached(j)]
    if todo:
        _render_segments(todo, jobs)
    print(f"segments: {len(segment_jobs) - len(todo)} cached, {len(todo)} rendered", file=sys.stderr)
    audio = build_audio_track(plan)
    out_dir = out_root / script.episode.id
    out_dir.mkdir(parents=True, exist_ok=True)
    video = out_dir / "video.mp4"
    assemble.join([Path(j["target"]) for j in segment_jobs], audio, video)
    write_subtitles(plan, out_dir)
    write_cover(plan, out_dir, video)
    write_publish(plan, out_dir)
    return out_dir
