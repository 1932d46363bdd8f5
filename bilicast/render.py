"""The runner: plans the stages of an episode, reuses what the cache holds,
renders the rest in parallel and writes the bundle."""
from __future__ import annotations

import json
import multiprocessing
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from tqdm import tqdm

from . import animate, assemble, narrate, publish, subtitles, templates, transitions
from .cache import Cache, atomic_path, digest, file_hash, sweep_leftovers, usable, write_text_atomic
from .codehash import code_components
from .errors import StageError, UserError
from .lifeline import die_with_parent, fault, interrupts_deferred
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
class ResolvedEpisode:
    """A loaded script with its templates filled in from the current results."""
    path: Path
    script: Script            # resolved
    raw: Script               # as written (templates unfilled)
    located: object
    scenes: object
    workspace: Path
    resolution: object        # resolve.Resolution, or None when the script uses no results


def load_episode(path: str | Path, require_results: bool = True) -> ResolvedEpisode:
    from . import resolve
    from .bench import DemoRegistry
    from .scenekit import SceneRegistry
    from .script import load_script_located, validate_resolved
    from .workspace import find_workspace

    path = Path(path)
    workspace = find_workspace(path)
    scenes = SceneRegistry(workspace)
    demos = DemoRegistry(workspace)
    script, located = load_script_located(path, scenes, demos, workspace)
    try:
        names, files, key_files = resolve.load_results(script, demos, workspace / "results")
    except resolve.MissingResult:
        if require_results:
            raise
        _check_shown_files(script, located, path, scenes, workspace)
        return ResolvedEpisode(path, script, script, located, scenes, workspace, None)   # validate without results
    resolution = resolve.resolve(script, located, str(path), names, files, key_files)
    _check_chart_data(script, located, path, resolution)
    _fill_provenance(resolution, scenes)
    resolved = validate_resolved(resolution.data, located, path, scenes)
    _check_shown_files(resolved, located, path, scenes, workspace)
    return ResolvedEpisode(path, resolved, script, located, scenes, workspace, resolution)


def _check_shown_files(script: Script, located, path: Path, scenes, workspace: Path) -> None:
    """Files a scene shows (code on screen) exist in the workspace and have
    what the params select: a script error (exit 2) before anything renders."""
    from .yamlsource import Problem, ScriptProblems
    problems = []
    for i, seg in enumerate(script.segments):
        scene_cls = scenes.get(seg.scene)
        try:
            params = scene_cls.Params.model_validate(seg.params)
        except ValidationError:   # templates not filled yet (validating without results)
            continue
        names = scene_cls.reads_files(params)
        found = {name: file for name in names if (file := _shown_file(workspace, name))}
        for name in names:
            if name not in found:
                line, col = located.position(("segments", i, "params"))
                problems.append(Problem(line, col, f"segments[{i}].params", f"no file {name} in the workspace",
                                        f"paths are relative to {workspace}"))
        if len(found) == len(names):
            for field, message in scene_cls.check_files(params, found):
                line, col = located.position(("segments", i, "params", field))
                problems.append(Problem(line, col, f"segments[{i}].params.{field}", message,
                                        "pick lines the file has now"))
    if problems:
        raise ScriptProblems(str(path), problems)


def _check_chart_data(script: Script, located, path: Path, resolution) -> None:
    """A chart with nothing to draw is a script error, not an empty pair of axes."""
    from .charts import data_problem
    from .yamlsource import Problem, ScriptProblems
    problems = []
    for i, seg in enumerate(script.segments):
        if seg.overlay:
            result = resolution.results[resolution.key_files[seg.overlay.data]]
            problem = data_problem(seg.overlay.chart, result, seg.overlay.fields)
            if problem:
                field = "fields" if seg.overlay.fields else "chart"
                line, col = located.position(("segments", i, "overlay", field))
                problems.append(Problem(line, col, f"segments[{i}].overlay.{field}", *problem))
    if problems:
        raise ScriptProblems(str(path), problems)


def _fill_provenance(resolution, scenes) -> None:
    """Data scenes show where their numbers were measured: fill `provenance`
    from the results their params use, unless the script sets it."""
    from .resolve import provenance_line, sources
    for i, seg in enumerate(resolution.data["segments"]):
        scene_cls = scenes.get(seg["scene"])
        if scene_cls is None or "provenance" not in scene_cls.Params.model_fields or "provenance" in seg["params"]:
            continue
        files = {f for n in resolution.numbers if n.where.startswith(f"segments[{i}].params")
                 for f, _ in sources(n.expr)}
        if files:
            seg["params"]["provenance"] = " / ".join(sorted({provenance_line(resolution.results[f], f) for f in files}))


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


def make_plan(script: Script, workspace: Path, preview: bool = False, scenes=None, dry: bool = False) -> Plan:
    """The timeline and what it rests on. dry (`plan`): only voice already in
    the cache; lines without it get the reading-speed estimate."""
    from .scenekit import SceneRegistry
    scenes = scenes or SceneRegistry(workspace)
    settings = RenderSettings.for_script(script, preview)
    cache = Cache(workspace / ".cache")
    lines = sum(len(s.narration) for s in script.segments)
    with tqdm(total=lines, desc="narration", unit="line", file=sys.stderr, leave=False, disable=None) as bar:
        line_audio = narrate.prepare(script, workspace, cache, progress=lambda: bar.update(1), dry=dry)
    beat_info = {}
    for i, seg in enumerate(script.segments):
        scene_cls = scenes.get(seg.scene)
        beat_info[i] = (scene_cls.beat_count(scene_cls.Params.model_validate(seg.params)), scene_cls.beat_seconds)
    timeline = plan_timeline(script, settings.fps, {k: a.seconds for k, a in line_audio.items()}, beat_info)
    cues = subtitles.build_cues(timeline, script.episode.subtitles.max_chars)
    return Plan(script, workspace, settings, cache, line_audio, timeline, cues)


def write_timeline(plan: Plan, out_dir: Path) -> None:
    """timeline.json: one shared timeline of segments, lines, beats and audio (seconds)."""
    from .spoken import to_spoken
    rows = []
    pronounce = plan.script.episode.pronounce
    for i, seg in enumerate(plan.timeline):
        for j, line in enumerate(seg.lines):
            # `spoken`: what the TTS voice was given for this line; `voiced`: it has audio
            rows.append({"segment": seg.id, "line": j, "text": line.text,
                         "spoken": to_spoken(line.text, pronounce).text, "voiced": (i, j) in plan.line_audio,
                         "beats": list(line.beats),
                         "start": round(seg.start + line.start, 3), "end": round(seg.start + line.end, 3)})
        for beat, (start, run) in seg.beats.items():
            rows.append({"segment": seg.id, "beat": beat, "start": round(seg.start + start, 3),
                         "end": round(seg.start + start + run, 3)})
    segments = [{"segment": s.id, "start": round(s.start, 3), "end": round(s.start + s.duration, 3),
                 "frames": s.frames} for s in plan.timeline]
    write_text_atomic(out_dir / "timeline.json", json.dumps({"fps": plan.settings.fps, "segments": segments,
                                                             "pronounce": pronounce, "events": rows},
                                                            ensure_ascii=False, indent=1))


def render_overlay(plan: Plan, episode: ResolvedEpisode, index: int, dry: bool = False) -> dict | None:
    """The segment's chart as a PNG (cached), and where it goes on the frame
    (dry: where it would be, without drawing it)."""
    seg = plan.script.segments[index]
    if not seg.overlay:
        return None
    from . import charts
    from .resolve import ShownNumber
    ov = seg.overlay
    w, h = plan.settings.width, plan.settings.height
    box = (w, h, 0, 0) if ov.position == "full" else (w // 2, int(h * 0.72), int(w * 0.48), int(h * 0.08))
    res = episode.resolution
    file = res.key_files[ov.data]
    result = res.results[file]
    key = digest({"chart": ov.model_dump(), "data": charts.inputs(ov.chart, result, ov.fields), "size": box[:2],
                  "provenance": res.provenance[ov.data],
                  "style": plan.script.episode.style.model_dump(),
                  "code": code_components(ENGINE / "charts.py", workspace=plan.workspace)})
    png = plan.cache.entry("charts", f"{seg.id}-{ov.chart}", key, "png")
    if dry:
        return {"png": str(png), "x": box[2], "y": box[3], "start": ov.start}
    numbers = png.with_suffix(".json")   # what the chart prints, kept beside it
    try:
        shown = json.loads(numbers.read_text(encoding="utf-8")) if png.exists() else None
    except (OSError, ValueError):
        shown = None
    if shown is None:
        shown = charts.render_chart(ov.chart, result, plan.script.episode.style, box[:2], png, ov.title,
                                    res.provenance[ov.data], ov.fields, video_height=h)
        write_text_atomic(numbers, json.dumps(shown, ensure_ascii=False))
    for text, value, field, how in shown:
        res.numbers.append(ShownNumber(f"segments[{index}].overlay", seg.id, text, value, how, (),
                                       ("src", file, field)))
    return {"png": str(png), "x": box[2], "y": box[3], "start": ov.start}


REASONS = {  # component -> why a segment is rebuilt; the first group are causes, the rest their effects
    "narration": "narration changed", "params": "params changed", "overlay": "overlay changed",
    "tools": "tool versions changed",
    "look": "style or output settings changed", "timing": "timing changed (audio or lines)",
    "subtitles": "subtitles changed", "resolved": "resolved params changed", "take": "take changed",
    "files": "a file it shows changed",
}
EFFECTS = ("timing", "subtitles", "resolved")


def plan_segments(plan: Plan, scenes, episode: ResolvedEpisode | None = None, dry: bool = False) -> list[dict]:
    """One job per segment, keyed by everything that shapes its picture. Each
    job keeps its key's components so `plan` can say why it would rebuild
    (dry: charts not drawn)."""
    from importlib.metadata import version

    script, settings = plan.script, plan.settings
    raw = episode.raw if episode else script
    style = script.episode.style.model_dump()
    tools = {"manim": version("manim"), "ffmpeg": ffmpeg_version()}
    code_of: dict[Path, dict] = {}   # scene file -> its code components (segments share scenes)
    jobs = []
    for index, (seg, timing) in enumerate(zip(script.segments, plan.timeline)):
        ass = ""
        if script.episode.subtitles.burn_in:
            seg_cues = subtitles.segment_cues(timing, script.episode.subtitles.max_chars)
            ass = subtitles.to_ass(seg_cues, (settings.width, settings.height), style["font"],
                                   workspace=plan.workspace) if seg_cues else ""
        scene_file = scenes.source_file(seg.scene)
        scene_cls = scenes.get(seg.scene)
        files = {name: str(_workspace_file(plan.workspace, name, seg.id))
                 for name in scene_cls.reads_files(scene_cls.Params.model_validate(seg.params))}
        overlay = render_overlay(plan, episode, index, dry) if episode else None
        job = {
            "segment": seg.id, "scene_name": seg.scene, "scene_file": str(scene_file),
            "scene_class": seg.scene.split(".")[1], "params": seg.params, "timing": timing.for_scene(),
            "frames": timing.frames, "style": style, "width": settings.width, "height": settings.height,
            "fps": settings.fps, "preview": settings.preview, "ass": ass, "overlay": overlay, "files": files,
        }
        raw_seg = raw.segments[index]
        components = {
            "narration": [ln.model_dump() for ln in raw_seg.narration], "params": raw_seg.params,
            "overlay": overlay and [raw_seg.overlay.model_dump(), Path(overlay["png"]).name],
            "tools": tools,
            "files": {name: file_hash(Path(path)) for name, path in files.items()},
            "look": [style, settings.width, settings.height, settings.fps, settings.preview],
            "timing": job["timing"], "subtitles": ass, "resolved": seg.params,
            "take": _take_hashes(script, index, plan.workspace),
        }
        components = {k: digest(v) for k, v in components.items()}
        # the scene's module and everything it imports from bilicast or beside it, and the segment stage's own code
        if scene_file not in code_of:
            code_of[scene_file] = code_components(scene_file, ENGINE / "animate.py", workspace=plan.workspace)
        components.update(code_of[scene_file])
        components.update(_result_components(episode, index))
        # the take itself doesn't shape the picture (its timing does): it is
        # kept only so `plan` can name it as the cause of a timing change
        key = digest({k: v for k, v in components.items() if k != "take"})
        job.update(key=key, slug=f"{seg.id}-{key[:16]}", components=components,
                   target=str(plan.cache.entry("segments", seg.id, key, "mp4")),
                   scratch=str(plan.cache.root / "tmp"),
                   manifest=str(plan.cache.root / "manifests" / script.episode.id /
                                f"{seg.id}-{'preview' if settings.preview else 'full'}.json"))
        jobs.append(job)
    return jobs


def _shown_file(workspace: Path, name: str) -> Path | None:
    """A file a scene shows, by its workspace-relative name (None if missing)."""
    path = (workspace / name).resolve()
    return path if path.is_file() else None


def _workspace_file(workspace: Path, name: str, segment: str) -> Path:
    path = _shown_file(workspace, name)
    if path is None:
        raise UserError(f"segment '{segment}' shows the file {name}, which is not in the workspace ({workspace})")
    return path


def _take_hashes(script: Script, index: int, workspace: Path) -> list[str]:
    """Content hashes of the recordings this segment's lines come from."""
    seg, voice = script.segments[index], script.episode.voice
    files = [line.audio for line in seg.narration if line.audio] + ([seg.audio.file] if seg.audio else [])
    if narrate.from_episode_take(script, seg):
        files.append(voice.take)
    return [file_hash(workspace / f) for f in files if (workspace / f).is_file()]


def _result_components(episode: ResolvedEpisode | None, index: int) -> dict:
    """result:<bench key> -> digest of the raw values this segment shows from it."""
    if not episode or not episode.resolution:
        return {}
    from .resolve import raw_value, sources
    res = episode.resolution
    by_file = {f: k for k, f in res.key_files.items()}
    used: dict[str, dict] = {}
    for n in res.numbers:
        if n.segment == episode.script.segments[index].id:
            for f, name in sources(n.expr):
                used.setdefault(f"result:{by_file[f]}", {})[name] = raw_value(res.results[f], name)
    return {k: digest(v) for k, v in sorted(used.items())}


def rebuild_reasons(job: dict) -> list[str]:
    """Why a segment that is not cached must be built, from its last manifest."""
    try:
        old = json.loads(Path(job["manifest"]).read_text(encoding="utf-8"))["components"]
    except (OSError, ValueError, KeyError):
        return ["not built"]
    changed = [k for k in sorted(set(job["components"]) | set(old)) if job["components"].get(k) != old.get(k)]
    causes = [k for k in changed if k not in EFFECTS] or changed
    code = [k.split(":", 1)[1] for k in causes if k.startswith("code:")]
    reasons = [f"result {k.split(':', 1)[1]} changed" if k.startswith("result:") else REASONS.get(k, k)
               for k in causes if not k.startswith("code:") and k in job["components"]]
    if code:   # name the files, a few at most
        reasons.append(f"code {', '.join(code[:3])} changed" + (f" (and {len(code) - 3} more files)"
                                                                 if len(code) > 3 else ""))
    return reasons or ["cached file missing"]


def estimated_seconds(job: dict) -> float:
    """From the last build of this segment if known, else ~50 frames/s at 1080p."""
    try:
        old = json.loads(Path(job["manifest"]).read_text(encoding="utf-8"))
        return old["seconds"] / old["frames"] * job["frames"]
    except (OSError, ValueError, KeyError, ZeroDivisionError):
        return 2.0 + job["frames"] * (job["width"] * job["height"]) / (1920 * 1080) / 50   # + worker start


def _is_cached(job: dict) -> bool:
    return usable(Path(job["target"]), is_valid_video)


def _build_one(job: dict) -> tuple[dict, float]:
    return job, animate.build_segment(job)


def _render_segments(todo: list[dict], jobs: int | None) -> None:
    """Segments in a pool of worker processes. Workers die with this process
    (even on kill -9); on any error or interrupt they are terminated at once,
    not left to finish their segment."""
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    ctx = multiprocessing.get_context("spawn")
    pool = None
    try:
        with interrupts_deferred():   # the pool exists before an interrupt can end it
            pool = ctx.Pool(workers, initializer=die_with_parent, maxtasksperchild=None)
        with tqdm(total=len(todo), desc="render segments", unit="seg", file=sys.stderr, disable=None) as bar:
            for job, seconds in pool.imap_unordered(_build_one, todo):
                write_text_atomic(job["manifest"], json.dumps({"key": job["key"], "components": job["components"],
                                                               "seconds": seconds, "frames": job["frames"]}))
                bar.update(1)
        pool.close()
    except BaseException:
        if pool:
            pool.terminate()
        raise
    finally:
        if pool:
            pool.join()


def audio_track_path(plan: Plan) -> tuple[Path, list, tuple | None]:
    """Where the episode's audio track is cached (by its inputs), its voice
    clips (path, start) and its music (path, volume, duck)."""
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
    return plan.cache.entry("audio", script.episode.id, key, "m4a"), voice, music


def build_audio_track(plan: Plan) -> Path:
    """The mixed, loudness-normalized episode audio as AAC (cached by its inputs)."""
    aac, voice, music = audio_track_path(plan)
    wav = aac.with_suffix(".wav")
    if usable(aac, lambda p: p.stat().st_size > 0):
        return aac
    if not narrate.usable_wav(wav):
        fault("audio")
        assemble.build_audio(plan.duration, voice, wav, music)
    assemble.encode_audio(wav, aac)
    return aac


def write_subtitles(plan: Plan, out_dir: Path, formats=SUBTITLE_FORMATS) -> list[Path]:
    size = (plan.settings.width, plan.settings.height)
    style = plan.script.episode.style
    writers = {
        "srt": ("subtitles.srt", lambda: subtitles.to_srt(plan.cues)),
        "ass": ("subtitles.ass", lambda: subtitles.to_ass(plan.cues, size, style.font, workspace=plan.workspace)),
        "bcc": ("subtitles.bcc.json", lambda: subtitles.to_bcc(plan.cues, workspace=plan.workspace)),
    }
    written = []
    for fmt in formats:
        name, make = writers[fmt]
        write_text_atomic(out_dir / name, make())
        written.append(out_dir / name)
    return written


def grab_frame(video: Path, t: float):
    """One frame of the video at t seconds, as a PIL image."""
    import tempfile

    from PIL import Image
    with tempfile.TemporaryDirectory(prefix="bilicast-") as tmp:
        frame = Path(tmp) / "frame.png"
        run_ffmpeg(["-ss", f"{t:.3f}", "-i", str(video), "-frames:v", "1", str(frame)], "grabbing a frame")
        return Image.open(frame).copy()


def write_cover(plan: Plan, out_dir: Path, video: Path | None = None) -> list[Path]:
    """Cover from the theme, or from a frame of the chosen segment (needs the video)."""
    from .cover import make_cover
    spec = plan.script.episode.cover
    background = None
    if spec.background.startswith("segment:") and video and video.exists():
        seg = plan.timeline[[s.id for s in plan.script.segments].index(spec.background[8:])]
        # the segment's last moment: its picture is complete and no subtitle is on screen
        background = grab_frame(video, seg.start + seg.duration - 0.25)
    elif spec.background.startswith("segment:"):
        print("note: the cover uses the theme background until the video is rendered", file=sys.stderr)
    return make_cover(plan.script.episode.style, spec.title or plan.script.episode.title, spec.badge, background,
                      out_dir)


def write_storyboard(plan: Plan, out_dir: Path, video: Path) -> Path:
    """storyboard.png: a contact sheet, one frame per segment (during its last
    line, so the full picture and a subtitle show), labelled with id and time."""
    from PIL import Image, ImageDraw

    from .cover import load_font
    from .publish import timestamp
    columns, thumb_w = 3, 480
    thumb_h = thumb_w * plan.settings.height // plan.settings.width
    label_h, pad = 44, 16
    rows = -(-len(plan.timeline) // columns)
    sheet = Image.new("RGB", (columns * (thumb_w + pad) + pad, rows * (thumb_h + label_h + pad) + pad), "#0b0c10")
    draw = ImageDraw.Draw(sheet)
    font = load_font(24, bold=False)
    for n, seg in enumerate(plan.timeline):
        t = seg.start + ((seg.lines[-1].start + seg.lines[-1].end) / 2 if seg.lines else seg.duration - 0.25)
        x = pad + (n % columns) * (thumb_w + pad)
        y = pad + (n // columns) * (thumb_h + label_h + pad)
        sheet.paste(grab_frame(video, t).convert("RGB").resize((thumb_w, thumb_h)), (x, y))
        draw.text((x, y + thumb_h + 8), f"{n + 1:02d}  {seg.id}  {timestamp(seg.start)}", font=font, fill="#d0d3da")
    target = out_dir / "storyboard.png"
    with atomic_path(target) as tmp:
        sheet.save(tmp, "PNG", optimize=True)
    return target


def write_publish(plan: Plan, out_dir: Path) -> None:
    desc = publish.description(plan.script, plan.timeline, plan.workspace)
    write_text_atomic(out_dir / "description.txt", desc)
    write_text_atomic(out_dir / "upload.yaml", publish.upload_yaml(plan.script, desc, plan.workspace))


def write_numbers(plan: Plan, episode: ResolvedEpisode, out_dir: Path) -> None:
    """numbers.json: every number shown, where and when, its text, source and raw value.
    Fails if a shown number disagrees with its source after rounding."""

    from .resolve import verify
    res = episode.resolution
    if res is None:
        return
    errors = verify(res.numbers, res.results)
    if errors:
        raise StageError("shown numbers disagree with their results (re-run `bilicast render`)", "\n".join(errors))
    ids = [s.id for s in plan.script.segments]
    rows = []
    for n in res.numbers:
        row = n.as_json(res.results)
        if n.segment is not None:
            i = ids.index(n.segment)
            seg = plan.timeline[i]
            start, end = seg.start, seg.start + seg.duration
            line = re.match(rf"segments\[{i}\]\.narration\[(\d+)\]", n.where)
            if line:
                timing = seg.lines[int(line.group(1))]
                start, end = seg.start + timing.start, seg.start + timing.end
            row["time"] = [round(start, 3), round(end, 3)]
        rows.append(row)
    write_text_atomic(out_dir / "numbers.json", json.dumps(rows, ensure_ascii=False, indent=1))


BUNDLE = ("video.mp4", "subtitles.srt", "subtitles.ass", "subtitles.bcc.json", "cover.jpg", "cover_4x3.jpg",
          "description.txt", "upload.yaml", "timeline.json", "storyboard.png")


def bundle_key(plan: Plan, segment_jobs: list[dict], audio: Path, heads: list) -> str:
    code = [file_hash(ENGINE / f) for f in ("render.py", "assemble.py", "cover.py", "publish.py", "subtitles.py")]
    shaped_by = templates.template_hashes(["description.txt.j2", "upload.yaml.j2", "subtitles.ass.j2", "bcc.json.j2"],
                                          plan.workspace)
    return digest({"segments": [j["key"] for j in segment_jobs], "audio": audio.name, "code": code,
                   "templates": shaped_by,
                   "transitions": [h and h["key"] for h in heads],
                   "script": plan.script.model_dump(), "preview": plan.settings.preview})


def bundle_is_current(out_dir: Path, key: str) -> bool:
    try:
        stored = json.loads((out_dir / ".bilicast-build.json").read_text(encoding="utf-8"))["key"]
    except (OSError, ValueError, KeyError):
        return False
    return stored == key and all((out_dir / name).exists() for name in BUNDLE)


def render_episode(episode: ResolvedEpisode, out_root: Path, preview: bool = False, jobs: int | None = None) -> Path:
    """Render the episode and its whole upload bundle; returns the output folder.
    Only what changed is built: segments by their keys, the bundle by its key."""
    script = episode.script
    sweep_leftovers(episode.workspace / ".cache", out_root / script.episode.id)   # from runs that were killed
    plan = make_plan(script, episode.workspace, preview, episode.scenes)
    segment_jobs = plan_segments(plan, episode.scenes, episode)
    todo = [j for j in segment_jobs if not _is_cached(j)]
    if todo:
        (plan.cache.root / "tmp").mkdir(parents=True, exist_ok=True)
        _render_segments(todo, jobs)
    print(f"segments: {len(segment_jobs) - len(todo)} cached, {len(todo)} rendered"
          + (f" ({', '.join(j['segment'] for j in todo)})" if todo else ""), file=sys.stderr)
    heads = transitions.plan_heads(segment_jobs, [s.transition for s in script.segments], plan.cache)
    for head in heads:
        if head and not usable(Path(head["target"]), is_valid_video):
            transitions.make_head(head)
    audio = build_audio_track(plan)
    out_dir = out_root / script.episode.id
    out_dir.mkdir(parents=True, exist_ok=True)
    key = bundle_key(plan, segment_jobs, audio, heads)
    write_numbers(plan, episode, out_dir)   # always re-checked against the results
    if bundle_is_current(out_dir, key):
        print("bundle: up to date, nothing to assemble", file=sys.stderr)
        return out_dir
    video = out_dir / "video.mp4"
    fault("join")
    assemble.join(transitions.join_parts(segment_jobs, heads), audio, video)
    write_subtitles(plan, out_dir)
    write_cover(plan, out_dir, video)
    write_storyboard(plan, out_dir, video)
    write_publish(plan, out_dir)
    write_timeline(plan, out_dir)
    write_text_atomic(out_dir / ".bilicast-build.json", json.dumps({"key": key}))
    return out_dir


def plan_facts(episode: ResolvedEpisode, out_root: Path, preview: bool = False) -> dict:
    """What a render would do, segment by segment, and why (the facts
    `plan` prints, and prints as JSON with --json). A dry run: it reads the
    cache and writes nothing (no voice, no charts, no audio)."""
    plan = make_plan(episode.script, episode.workspace, preview, episode.scenes, dry=True)
    segment_jobs = plan_segments(plan, episode.scenes, episode, dry=True)
    segments, total = [], 0.0
    for job in segment_jobs:
        if _is_cached(job):
            segments.append({"id": job["segment"], "state": "cached"})
            continue
        cost = estimated_seconds(job)
        total += cost
        segments.append({"id": job["segment"], "state": "build", "estimated_seconds": round(cost, 1),
                         "reasons": rebuild_reasons(job)})
    settings = plan.settings
    facts = {"episode": episode.script.episode.id, "duration": round(plan.duration, 3), "width": settings.width,
             "height": settings.height, "fps": settings.fps, "segments": segments,
             "voiced_lines": len(plan.line_audio), "estimated_seconds": round(total, 1), "bundle_current": False}
    if not total:
        heads = transitions.plan_heads(segment_jobs, [s.transition for s in episode.script.segments], plan.cache)
        out_dir = out_root / episode.script.episode.id
        audio = audio_track_path(plan)[0]
        facts["bundle_current"] = audio.exists() and bundle_is_current(out_dir, bundle_key(plan, segment_jobs, audio,
                                                                                            heads))
    return facts


def describe_plan(facts: dict) -> str:
    rows = [f"  {s['id']:<16} cached" if s["state"] == "cached" else
            f"  {s['id']:<16} to build  ~{s['estimated_seconds']:5.1f} s  ({', '.join(s['reasons'])})"
            for s in facts["segments"]]
    head = (f"{facts['episode']}: {len(rows)} segments, {facts['duration']:.1f} s at "
            f"{facts['width']}x{facts['height']} {facts['fps']} fps")
    audio = f"{facts['voiced_lines']} voiced lines ready" if facts["voiced_lines"] else "silent"
    total = facts["estimated_seconds"]
    tail = f"  estimated render time: ~{total:.0f} s" if total else "  nothing to render"
    if not total:
        tail += "; bundle up to date" if facts["bundle_current"] else "; bundle to assemble (seconds)"
    return "\n".join([head, *rows, f"  audio: {audio}", tail])
