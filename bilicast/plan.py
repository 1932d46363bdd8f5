"""The plan stage: from the resolved episode and the line durations of its
voice, everything a render would build: the timeline, one job per segment
and chart with its key, the audio track's key, the bundle's key, and why each
thing is (not) cached. Pure: it reads the cache and the workspace, and draws,
synthesizes, encodes and writes nothing (`bilicast plan` is this stage)."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import aigc, assemble, narrate, subtitles, templates, transitions, variants, watermark
from .cache import Cache, Target, digest, file_hash, usable
from .codehash import code_components
from .contracts import BurnIn, ChartJob, Mix, SegmentJob, Stamp, TransitionHead
from .episode import ResolvedEpisode
from .errors import UserError
from .media import AUDIO_RATE, ffmpeg_version, is_valid_video
from .script import PREVIEW, Script
from .timeline import SegmentTiming, plan_timeline, total_duration
from .workspace import ENGINE, shown_file

if TYPE_CHECKING:
    from .narrate import LineAudio
    from .scenekit import SceneRegistry


@dataclass
class RenderSettings:
    width: int
    height: int
    fps: int
    preview: bool
    variant: str = "main"

    @classmethod
    def for_script(cls, script: Script, preview: bool, variant: str = "main",
                   workspace: Path | None = None) -> "RenderSettings":
        landscape = (PREVIEW["width"], PREVIEW["height"]) if preview else script.episode.output.size
        w, h = variants.get(variant, workspace).size(landscape)
        return cls(w, h, PREVIEW["fps"] if preview else script.episode.output.fps, preview, variant)


@dataclass
class Plan:
    """Everything later stages read: one timeline for picture, voice and subtitles."""
    script: Script
    workspace: Path
    settings: RenderSettings
    cache: Cache
    line_audio: dict[tuple[int, int], LineAudio]   # (segment, line) -> its audio
    timeline: list[SegmentTiming]

    @property
    def duration(self) -> float:
        return total_duration(self.timeline)

    @functools.cached_property
    def variant(self) -> variants.Variant:   # looked up once: the registry lists its folders
        return variants.get(self.settings.variant, self.workspace)

    @property
    def subtitle_chars(self) -> int:
        """Subtitle line length in this variant (shorter across a narrow frame)."""
        return self.variant.subtitle_chars(self.settings.width, self.settings.height,
                                                             self.script.episode.subtitles.max_chars)

    @functools.cached_property
    def label(self) -> tuple[aigc.Label, Target] | None:
        """The AI-content label as placed in this variant, and its PNG's target (plan_label)."""
        return plan_label(self)

    @functools.cached_property
    def watermark(self) -> tuple[watermark.Placed, Target] | None:
        """The channel's watermark as placed in this variant, and its PNG's target (plan_watermark)."""
        return plan_watermark(self)

    @functools.cached_property
    def cues(self) -> list[subtitles.Cue]:
        """The episode's subtitle cues (made when first asked for: wrapping
        loads jieba's dictionary, which planning doesn't need)."""
        return subtitles.build_cues(self.timeline, self.subtitle_chars)


def make_plan(script: Script, workspace: Path, line_audio: dict[tuple[int, int], LineAudio], scenes: SceneRegistry,
              preview: bool = False, variant: str = "main") -> Plan:
    """The timeline and what it rests on: line_audio maps (segment, line) to
    its audio (narrate.LineAudio); lines without any get the reading-speed
    estimate. The timeline is the same in every variant."""
    settings = RenderSettings.for_script(script, preview, variant, workspace)
    beat_info = {}
    for i, seg in enumerate(script.segments):
        scene_cls = scenes.get(seg.scene)
        beat_info[i] = (scene_cls.beat_count(scene_cls.Params.model_validate(seg.params)), scene_cls.beat_seconds)
    timeline = plan_timeline(script, settings.fps, {k: a.seconds for k, a in line_audio.items()}, beat_info)
    return Plan(script, workspace, settings, Cache(workspace / ".cache"), line_audio, timeline)


BUNDLE_STAMP = ".bilicast-build.json"   # in a bundle's folder: its key, variant and cover key


def _settings_name(plan: Plan, slug: str) -> str:
    """A manifest name for a target one slug has in every variant and size."""
    return f"{slug}-{plan.settings.variant}-{'preview' if plan.settings.preview else 'full'}"


def font_id(spec: str, workspace: Path) -> str | list:
    """What a font spec stands for in a key: an installed family's name, or
    a workspace font file's name with its faces' contents."""
    from .fonts import is_file_spec, resolve
    if not is_file_spec(spec):
        return spec
    font = resolve(spec, workspace)
    return [spec, file_hash(font.file), font.bold_file and file_hash(font.bold_file)]


def plan_chart(plan: Plan, episode: ResolvedEpisode, index: int) -> ChartJob | None:
    """The segment's chart (None: it has none): its cached PNG (keyed by
    what shapes it), where it goes on the frame, and what build.draw_chart
    needs to draw it."""
    seg = plan.script.segments[index]
    if not seg.overlay or not episode.resolution:
        return None
    from . import charts
    ov = seg.overlay
    w, h = plan.settings.width, plan.settings.height
    if ov.position == "full":
        box = (w, h, 0, 0)
    else:   # where the variant puts it: the right half (main), across the frame above the subtitles (vertical)
        left, top, width, height = plan.variant.chart_box
        box = (int(w * width), int(h * height), int(w * left), int(h * top))
    res = episode.resolution
    file = res.key_files[ov.data]
    slug = f"{seg.id}-{ov.chart}"
    made = plan.cache.target("chart", "charts", slug, {
        "chart": ov.model_dump(), "data": charts.inputs(ov.chart, res.results[file], ov.fields, plan.workspace),
        "size": box[:2], "provenance": res.provenance[ov.data], "style": plan.script.episode.style.model_dump(),
        "font": font_id(plan.script.episode.style.font, plan.workspace),
        "code": code_components(*charts.code_files(ov.chart, plan.workspace),
                                workspace=plan.workspace)},   # the kind, charts/__init__, filters...
        "png", remembered_as=_settings_name(plan, slug))
    return ChartJob(index=index, segment=seg.id, file=file, size=(box[0], box[1]), short_side=min(w, h),
                    png=str(made.path), x=box[2], y=box[3], start=ov.start, made=made)


def plan_label(plan: Plan) -> tuple[aigc.Label, Target] | None:
    """The on-screen AI-content label in this variant and size, and its PNG's
    cache target (None: the episode carries no labels)."""
    from .cover import font_file
    style = aigc.label_style(plan.script, plan.workspace)
    if style is None:
        return None
    label = aigc.place(style, (plan.settings.width, plan.settings.height), plan.variant)
    made = plan.cache.target("label", "labels", "aigc", {
        "label": label.record(), "font": file_hash(font_file(True)),
        "code": code_components(ENGINE / "aigc.py", workspace=plan.workspace)}, "png",
        remembered_as=_settings_name(plan, "aigc"))
    return label, made


def plan_watermark(plan: Plan) -> tuple[watermark.Placed, Target] | None:
    """The channel's watermark in this variant and size, and its PNG's cache
    target (None: no watermark, or no logo to make it from)."""
    spec, channel = plan.script.episode.watermark, plan.script.channel
    if spec is None or channel is None or not channel.logo:
        return None
    logo = plan.workspace / channel.logo
    label = plan.label
    placed = watermark.place(spec, logo, (plan.settings.width, plan.settings.height), plan.variant,
                             label[0].box if label else None)
    made = plan.cache.target("watermark", "watermarks", "logo", {
        "watermark": placed.record(), "logo": file_hash(logo),
        "code": code_components(ENGINE / "watermark.py", workspace=plan.workspace)}, "png",
        remembered_as=_settings_name(plan, "watermark"))
    return placed, made


def label_stamp(plan: Plan, label: tuple[aigc.Label, Target] | None, timing: SegmentTiming) -> Stamp | None:
    """The AI-content label laid over a segment at finishing, if the episode
    has one and the segment starts before it ends."""
    if label is None or timing.start >= label[0].until:
        return None
    (x, y, _, _), until = label[0].box, label[0].until - timing.start
    return Stamp(str(label[1].path), x, y, None if until * plan.settings.fps >= timing.frames else until)


def watermark_stamp(plan: Plan) -> Stamp | None:
    """The channel's watermark, laid over all of every segment at finishing."""
    if plan.watermark is None:
        return None
    placed, made = plan.watermark
    return Stamp(str(made.path), placed.box[0], placed.box[1], None)


REASONS = {  # component -> why a segment is rebuilt; the first group are causes, the rest their effects
    "narration": "narration changed", "params": "params changed", "overlay": "overlay changed",
    "label": "the AI-content label changed",
    "watermark": "the watermark changed: every chunk is re-encoded (about a cold finishing pass)",
    "tools": "tool versions changed",
    "look": "output settings changed", "timing": "timing changed (audio or lines)",
    "subtitles": "subtitles changed", "resolved": "resolved params changed", "take": "take changed",
    "files": "a file it shows changed",
}
EFFECTS = ("timing", "subtitles", "resolved")
ANIMATION = ("resolved", "files", "look", "tools")   # what shapes the animation, with the code and beat run times


def plan_segments(plan: Plan, scenes: SceneRegistry, episode: ResolvedEpisode | None = None) -> list[SegmentJob]:
    """One job per segment, keyed by everything that shapes its picture. Each
    job keeps its key's components so `plan` can say why it would rebuild;
    a job's `chart` is its chart's job (drawn before the segment)."""
    from importlib.metadata import version

    script, settings = plan.script, plan.settings
    raw = episode.raw if episode else script
    style = script.episode.style.model_dump()
    tools = {"manim": version("manim"), "ffmpeg": ffmpeg_version()}
    code_of: dict[Path, dict] = {}   # scene file -> its code components (segments share scenes)
    burn_in, bilingual = script.episode.subtitles.burn_in, script.episode.subtitles.bilingual
    # what shapes a segment's burned-in subtitles, besides its lines (in "timing"); not `lang`, which is only
    # recorded with the files, nor `bilingual` while off (so keys made before it existed hold)
    shown = script.episode.subtitles.model_dump(exclude={"lang"} if bilingual else {"lang", "bilingual"})
    font = font_id(style["font"], plan.workspace)
    shaped_subtitles = burn_in and [shown, font, settings.width,
                                    settings.height, plan.variant.subtitle_margin, version("jieba"),
                                    templates.template_hashes(["subtitles.ass.j2"], plan.workspace),
                                    code_components(ENGINE / "subtitles.py", workspace=plan.workspace)]
    jobs = []
    label = plan.label
    for index, (seg, timing) in enumerate(zip(script.segments, plan.timeline)):
        scene_file = scenes.source_file(seg.scene)
        scene_cls = scenes.get(seg.scene)
        files = {name: str(_workspace_file(plan.workspace, name, seg.id))
                 for name in scene_cls.reads_files(scene_cls.Params.model_validate(seg.params))}
        chart = plan_chart(plan, episode, index) if episode else None
        overlay = chart.overlay() if chart else None
        scene_timing = timing.for_scene()
        raw_seg = raw.segments[index]
        labelled, marked = label_stamp(plan, label, timing), watermark_stamp(plan)
        laid_over = tuple(s for s in (labelled, marked) if s)
        # a line's English shapes the picture only in bilingual burned-in subtitles (then in "subtitles")
        english = tuple(ln.en or "" for ln in seg.narration) if burn_in and bilingual else ()
        shaped_by: dict[str, Any] = {
            "narration": [ln.model_dump(exclude={"en"}) for ln in raw_seg.narration], "params": raw_seg.params,
            "overlay": overlay and raw_seg.overlay and [raw_seg.overlay.model_dump(), Path(overlay.png).name],
            "tools": tools,
            "files": {name: file_hash(Path(path)) for name, path in files.items()},
            # each style field on its own, so `plan` can name the one that changed (and where it is set)
            **{f"style:{k}": font if k == "font" else v for k, v in style.items()},
            "look": [settings.width, settings.height, settings.fps, settings.preview, settings.variant, plan.variant],
            "timing": scene_timing,
            "subtitles": burn_in and [shaped_subtitles, bool(timing.lines), *([english] if english else [])],
            "resolved": seg.params,
            "take": _take_hashes(script, index, plan.workspace),
        }
        if labelled:   # only then: an unlabelled segment keeps its key
            shaped_by["label"] = [labelled.shape(0, timing.duration)]
        if marked:
            shaped_by["watermark"] = [marked.shape(0, timing.duration)]
        components = {k: digest(v) for k, v in shaped_by.items()}
        # the scene's module and everything it imports from bilicast or beside it, and the segment stage's own code
        if scene_file not in code_of:
            code_of[scene_file] = code_components(scene_file, ENGINE / "animate.py", workspace=plan.workspace)
        components.update(code_of[scene_file])
        components.update(_result_components(episode, index))
        # the take itself doesn't shape the picture (its timing does): it is
        # kept only so `plan` can name it as the cause of a timing change
        segment = plan.cache.target("segment", "segments", seg.id, components=components, leave_out=("take",),
                                    ext="mp4", remembered_as=_settings_name(plan, seg.id))
        key = segment.key
        # the animation Manim renders is shaped by less: not by when its beats
        # start or how long it holds, nor by the overlay or subtitles on top
        animation = plan.cache.target(
            "animation", "animations", seg.id,
            {"runs": {k: run for k, (_, run) in timing.beats.items()},
             **{k: v for k, v in components.items() if k in ANIMATION or k.startswith(("code:", "style:"))}},
            "mp4", remembered_as=_settings_name(plan, seg.id))
        jobs.append(SegmentJob(
            segment=seg.id, scene_name=seg.scene, scene_file=str(scene_file), scene_class=seg.scene.split(".")[1],
            params=seg.params, timing=scene_timing, frames=timing.frames, style=style, width=settings.width,
            height=settings.height, fps=settings.fps, preview=settings.preview, variant=settings.variant,
            overlay=overlay, chart=chart, files=files,
            # burned-in subtitles: the ASS is made at build time (wrapping needs jieba's dictionary)
            burn_in=BurnIn(timing, plan.subtitle_chars, style["font"], plan.variant.subtitle_margin,
                           plan.workspace, english) if burn_in else None,
            key=key, slug=f"{seg.id}-{key[:16]}", components=components,
            target=str(segment.path), raw=str(animation.path), animation=animation, stamps=laid_over,
            scratch=str(plan.cache.root / "tmp"), chunks=str(plan.cache.root / "chunks"),
            manifest=str(plan.cache.root / "manifests" / script.episode.id /
                         f"{seg.id}-{settings.variant}-{'preview' if settings.preview else 'full'}.json")))
    return jobs


def _workspace_file(workspace: Path, name: str, segment: str) -> Path:
    path = shown_file(workspace, name)
    if path is None:
        raise UserError(f"segment '{segment}' shows the file {name}, which is not in the workspace ({workspace})")
    return path


def _take_hashes(script: Script, index: int, workspace: Path) -> list[str]:
    """Content hashes of the recordings this segment's lines come from."""
    seg, voice = script.segments[index], script.episode.voice
    files = [line.audio for line in seg.narration if line.audio] + ([seg.audio.file] if seg.audio else [])
    if narrate.from_episode_take(script, seg) and voice.take:
        files.append(voice.take)
    return [file_hash(workspace / f) for f in files if (workspace / f).is_file()]


def _result_components(episode: ResolvedEpisode | None, index: int) -> dict:
    """result:<bench key> -> digest of the raw values this segment shows from it."""
    if not episode or not episode.resolution:
        return {}
    from .measured import raw_value, sources
    res = episode.resolution
    by_file = {f: k for k, f in res.key_files.items()}
    used: dict[str, dict] = {}
    for n in res.numbers:
        if n.segment == episode.script.segments[index].id:
            for f, name in sources(n.expr):
                used.setdefault(f"result:{by_file[f]}", {})[name] = raw_value(res.results[f], name)
    return {k: digest(v) for k, v in sorted(used.items())}


def rebuild_reasons(job: SegmentJob, script: Script | None = None) -> list[str]:
    """Why a segment that is not cached must be built, from its last manifest
    (with the script: a style field or the watermark is named where it is
    set, channel.yaml or the episode)."""
    try:
        old = json.loads(Path(job.manifest).read_text(encoding="utf-8"))["components"]
    except (OSError, ValueError, KeyError):
        return ["not built"]
    changed = [k for k in sorted(set(job.components) | set(old)) if job.components.get(k) != old.get(k)]
    causes = [k for k in changed if k not in EFFECTS] or changed
    code = [k.split(":", 1)[1] for k in causes if k.startswith("code:")]
    def named(field: str) -> str:
        from .channel import origin
        return origin(script, field) if script is not None else field
    reasons = [f"result {k.split(':', 1)[1]} changed" if k.startswith("result:") else
               f"{named('style.' + k.split(':', 1)[1])} changed" if k.startswith("style:") else
               f"{named('watermark')}: {REASONS[k].split(': ', 1)[1]}" if k == "watermark" else REASONS.get(k, k)
               for k in causes if not k.startswith("code:") and k in job.components]
    reasons += [f"the {'AI-content label' if k == 'label' else k} was removed" for k in causes
                if k in ("label", "watermark") and k not in job.components]
    if code:   # name the files, a few at most
        reasons.append(f"code {', '.join(code[:3])} changed" + (f" (and {len(code) - 3} more files)"
                                                                 if len(code) > 3 else ""))
    return reasons or ["cached file missing"]


def estimated_seconds(job: SegmentJob) -> float:
    """From the last build of this segment if known, else ~50 frames/s at 1080p."""
    try:
        old = json.loads(Path(job.manifest).read_text(encoding="utf-8"))
        return float(old["seconds"] / old["frames"] * job.frames)
    except (OSError, ValueError, KeyError, ZeroDivisionError):
        return 2.0 + job.frames * (job.width * job.height) / (1920 * 1080) / 50   # + worker start


def finish_seconds(job: SegmentJob) -> float:
    """Finishing alone (ffmpeg, no Manim): roughly 150 frames/s at 1080p."""
    return 0.3 + job.frames * (job.width * job.height) / (1920 * 1080) / 150


def is_cached(job: SegmentJob) -> bool:
    return usable(Path(job.target), is_valid_video)


def audio_plan(plan: Plan) -> tuple[Path, list[Mix]]:
    """Where the episode's audio track is cached, and its segments' mixes."""
    track, mixes, _ = audio_targets(plan)
    return track.path, mixes


def audio_targets(plan: Plan) -> tuple[Target, list[Mix], list[Target]]:
    """The audio track's cache target, its segments' mixes and their targets,
    each keyed by what is heard in it (its voice clips; with music, the slice
    of each bed under it, where a cross-fade reaching it begins, and the lines
    that duck it), so a changed line re-mixes its own segment (and, under
    music, those it moves), and a changed bed its segment and those its
    cross-fade reaches. A segment's bed is its own music or the episode's;
    where it changes, the old bed fades out and the new one in over
    assemble.FADE seconds from that segment's start, each on the episode's
    clock (docs/music.md)."""
    script = plan.script

    def bed_of(m) -> tuple[Path, float, float] | None:
        return (plan.workspace / m.file, m.volume, m.duck) if m else None

    beds = [bed_of(s.music or script.episode.music) for s in script.segments]
    bed_ids = {b: [file_hash(b[0]), b[1], b[2]] for b in set(beds) if b}
    comes = [i for i in range(len(beds)) if i == 0 or beds[i] != beds[i - 1]]   # where a bed comes in
    runs = list(zip(comes, [*comes[1:], None]))   # (the segment it comes in at, the one the next does at)
    code = code_components(ENGINE / "assemble.py", workspace=plan.workspace)
    lines = sorted(plan.line_audio.items())   # ((segment, line), audio), in episode order
    intervals = []   # when each line is spoken, in episode seconds (the music ducks under them)
    for (i, j), a in lines:
        start = plan.timeline[i].start + plan.timeline[i].lines[j].start
        intervals.append((round(start, 6), round(start + a.seconds, 6)))
    mixes, targets = [], []
    for i, seg in enumerate(plan.timeline):
        voice = [(a.path, seg.lines[j].start) for (k, j), a in lines if k == i]
        near = [(s, e) for s, e in intervals
                if e + assemble.DUCK_RAMP > seg.start and s - assemble.DUCK_RAMP < seg.start + seg.duration]
        heard = []   # the beds come in by this segment and not faded out before it
        for first, after in runs:
            bed, came = beds[first], plan.timeline[first].start
            gone = None if after is None or after > i else plan.timeline[after].start   # its fade out has begun
            if bed and first <= i and (gone is None or gone + assemble.FADE > seg.start):
                heard.append(assemble.Bed(*bed, fade_in=came if first and came + assemble.FADE > seg.start else None,
                                          fade_out=gone))
        music: Any = None
        if len(heard) == 1 and heard[0].fade_in is None and heard[0].fade_out is None:
            music = [bed_ids[heard[0][:3]], round(seg.start, 6), near]   # as when one bed plays throughout
        elif heard:   # cross-fading: each bed heard, where its fades begin (seconds into the segment)
            music = {"beds": [[bed_ids[b[:3]], *[None if f is None else round(f - seg.start, 6)
                                                for f in (b.fade_in, b.fade_out)]] for b in heard],
                     "at": round(seg.start, 6), "near": near}
        made = plan.cache.target("mix", "mixes", seg.id, {
            "samples": round(seg.duration * AUDIO_RATE), "step": assemble.power_step(plan.settings.fps),
            "voice": [(str(p), round(t, 4)) for p, t in voice],
            "music": music, "code": code}, "npz",
            remembered_as=f"{seg.id}-{plan.settings.fps}")
        mixes.append(Mix(index=i, start=seg.start, duration=seg.duration, voice=voice, music=tuple(heard),
                         intervals=near, key=made.key, target=made.path))
        targets.append(made)
    track = plan.cache.target("audio track", "audio", script.episode.id,
                              {"mixes": [m.key for m in mixes], "loudness": assemble.LOUDNESS, "code": code}, "m4a")
    return track, mixes, targets


BUNDLE = ("video.mp4", "subtitles.srt", "subtitles.ass", "subtitles.bcc.json", "cover.jpg", "cover_4x3.jpg",
          "description.txt", "upload.yaml", "timeline.json", "storyboard.png")


def bundle_files(variant: variants.Variant) -> tuple[str, ...]:
    """What a variant's bundle holds: its cover files (the vertical cut's one
    cover.jpg is already 3:4, so it has no 4:3 crop) and the rest."""
    covers = variant.cover.files()
    return tuple(n for n in BUNDLE if n in covers or not n.startswith("cover")) + tuple(
        n for n in covers if n not in BUNDLE)


def bundle_key(plan: Plan, segment_jobs: list[SegmentJob], audio: Path, heads: list[TransitionHead | None]) -> str:
    return bundle_target(plan, segment_jobs, audio, heads).key


def bundle_target(plan: Plan, segment_jobs: list[SegmentJob], audio: Path, heads: list[TransitionHead | None],
                  out_dir: Path | None = None) -> Target:
    """The bundle in out_dir (its stamp stands for it), keyed by all it is made from."""
    code = code_components(ENGINE / "bundle.py", workspace=plan.workspace)   # the writers and all they import
    shaped_by = templates.template_hashes(["description.txt.j2", "upload.yaml.j2", "subtitles.ass.j2", "bcc.json.j2"],
                                          plan.workspace)
    name = _settings_name(plan, plan.script.episode.id)
    return plan.cache.target("bundle", "bundles", name, {
        "segments": [j.key for j in segment_jobs], "audio": audio.name, "code": code, "templates": shaped_by,
        "transitions": [h and h.key for h in heads],
        # the other variants a script declares don't shape this one's bundle
        "script": plan.script.model_dump(exclude={"episode": {"variants"}}),
        "settings": [plan.settings.preview, plan.settings.variant]},
        path=(out_dir or Path(plan.settings.variant)) / BUNDLE_STAMP)


def cover_key(plan: Plan, segment_jobs: list[SegmentJob]) -> str:
    return cover_target(plan, segment_jobs).key


def cover_target(plan: Plan, segment_jobs: list[SegmentJob], out_dir: Path | None = None) -> Target:
    """What the cover shows, so a bundle remade for a changed line or number
    makes the cover again only when that changed."""
    spec = plan.script.episode.cover
    shown = None   # the segment whose last moment is the cover's background, and where it is
    if spec.background.startswith("segment:"):
        index = [s.id for s in plan.script.segments].index(spec.background[8:])
        shown = [segment_jobs[index].key, plan.timeline[index].start, plan.timeline[index].duration]
    channel = plan.script.channel   # its name and logo are on the cover
    brand = channel and [channel.name, channel.logo and file_hash(plan.workspace / channel.logo)]
    return plan.cache.target("cover", "covers", _settings_name(plan, plan.script.episode.id), {
        "spec": spec.model_dump(), "title": plan.script.episode.title, "shown": shown,
        **({"channel": brand} if brand else {}),   # absent without a channel: covers made before it keep their keys
        "look": [plan.script.episode.style.model_dump(), font_id(plan.script.episode.style.font, plan.workspace),
                 plan.settings.width, plan.settings.height, plan.variant.cover],
        "code": code_components(ENGINE / "bundle.py", workspace=plan.workspace)},   # cover.py among its imports
        path=(out_dir or Path(plan.settings.variant)) / "cover.jpg")


def bundle_is_current(out_dir: Path, key: str, variant: variants.Variant) -> bool:
    try:
        stored = json.loads((out_dir / BUNDLE_STAMP).read_text(encoding="utf-8"))["key"]
    except (OSError, ValueError, KeyError):
        return False
    return stored == key and all((out_dir / name).exists() for name in bundle_files(variant))


def plan_facts(plan: Plan, segment_jobs: list[SegmentJob], out_dir: Path) -> dict:
    """What a render would do, segment by segment, and why (the facts
    `plan` prints, and prints as JSON with --json; render.dry_run adds
    "targets": every cached thing, from targets.plan_targets)."""
    from .animate import animation_is_cached
    segments: list[dict[str, Any]] = []
    total = 0.0
    for job in segment_jobs:
        if is_cached(job):
            segments.append({"id": job.segment, "state": "cached"})
            continue
        animated = animation_is_cached(job)
        cost = finish_seconds(job) if animated else estimated_seconds(job)
        total += cost
        segments.append({"id": job.segment, "state": "build", "estimated_seconds": round(cost, 1),
                         "animation_cached": animated,
                         "reasons": rebuild_reasons(job, plan.script)
                         + (["animation reused: finish only"] if animated else [])})
    settings = plan.settings
    facts: dict[str, Any] = {"episode": plan.script.episode.id, "variant": settings.variant, "duration": round(plan.duration, 3),
             "width": settings.width, "height": settings.height, "fps": settings.fps, "segments": segments,
             "voiced_lines": len(plan.line_audio), "estimated_seconds": round(total, 1), "bundle_current": False}
    if not total:
        heads = transitions.plan_heads(segment_jobs, [s.transition for s in plan.script.segments], plan.cache)
        audio = audio_plan(plan)[0]
        key = bundle_key(plan, segment_jobs, audio, heads)
        facts["bundle_current"] = audio.exists() and bundle_is_current(out_dir, key, plan.variant)
    return facts


def describe_plan(facts: dict) -> str:
    rows = [f"  {s['id']:<16} cached" if s["state"] == "cached" else
            f"  {s['id']:<16} to build  ~{s['estimated_seconds']:5.1f} s  ({', '.join(s['reasons'])})"
            for s in facts["segments"]]
    head = (f"{facts['episode']} ({facts['variant']}): {len(rows)} segments, {facts['duration']:.1f} s at "
            f"{facts['width']}x{facts['height']} {facts['fps']} fps")
    audio = f"{facts['voiced_lines']} voiced lines ready" if facts["voiced_lines"] else "silent"
    total = facts["estimated_seconds"]
    tail = f"  estimated render time: ~{total:.{0 if total >= 10 else 1}f} s" if total else "  nothing to render"
    if not total:
        tail += "; bundle up to date" if facts["bundle_current"] else "; bundle to assemble (seconds)"
    return "\n".join([head, *rows, f"  audio: {audio}", *describe_targets(facts.get("targets", [])), tail])


KINDS = {"voice line": "voice lines", "take": "takes", "chart": "charts", "animation": "animations",
         "segment": "segments", "chunk": "chunks", "transition head": "transition heads", "mix": "mixes",
         "aac piece": "AAC pieces", "audio track": "audio track", "cover": "cover", "thumb": "thumbs",
         "bundle": "bundle", "bench result": "bench results", "label": "AI-content label",
         "watermark": "watermark"}


def describe_targets(targets: list[dict]) -> list[str]:
    """One line per kind of target: how many are ready, how many to make
    (not "to build": those words start a segment's row)."""
    rows = []
    for kind, label in KINDS.items():
        of_kind = [t for t in targets if t["kind"] == kind]
        if of_kind:
            ready = sum(t["state"] == "cached" for t in of_kind)
            rows.append(f"  {label + ':':<18} {ready} ready, {len(of_kind) - ready} to make")
    return rows
