"""The episode script: a typed, validated model of scripts/<episode>.yaml.

`load_script(path)` returns a `Script` or raises ScriptProblems, every problem
located at file:line:column with the field, what was expected and how to fix it.
"""
from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from . import yamlsource
from .yamlsource import Problem, ScriptProblems

RESOLUTIONS = {"720p": (1280, 720), "1080p": (1920, 1080), "1440p": (2560, 1440), "2160p": (3840, 2160)}
PREVIEW = {"width": 854, "height": 480, "fps": 15}

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Color = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class Strict(BaseModel):
    """Unknown keys are errors, with a did-you-mean suggestion."""
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_keys(cls, data):
        if isinstance(data, dict):
            allowed = sorted(cls.model_fields)
            for key in data:
                if key not in cls.model_fields:
                    close = difflib.get_close_matches(str(key), allowed, n=1)
                    raise PydanticCustomError(
                        "unknown_key", "unknown key '{key}'",
                        {"key": key, "hint": (f"did you mean '{close[0]}'? " if close else "")
                         + "allowed keys here: " + ", ".join(allowed)})
        return data


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


class SubtitleStyle(Strict):
    burn_in: bool = True
    max_chars: int = Field(20, ge=8, le=60, description="full-width characters per subtitle line")


class Episode(Strict):
    id: Slug
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    tags: list[Tag] = Field(default_factory=list, max_length=10)
    output: Output = Output()
    style: Style = Style()
    subtitles: SubtitleStyle = SubtitleStyle()
    reading_speed: float = Field(4.5, ge=1.0, le=15.0, description="characters per second when silent")


class Segment(Strict):
    id: Slug
    scene: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_]\w*\.[A-Za-z_]\w*$")]
    params: dict[str, Any] = Field(default_factory=dict)
    narration: list[Line] = Field(default_factory=list)
    min_duration: float = Field(0.0, ge=0.0, le=600.0, description="seconds; the segment lasts at least this long")


class BenchEntry(Strict):
    demo: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
    params: dict[str, Any] = Field(default_factory=dict)


Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class Script(Strict):
    episode: Episode
    bench: dict[Name, BenchEntry] = Field(default_factory=dict, description="results this episode measures")
    segments: list[Segment] = Field(min_length=1)


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


def _problem_from_error(err: dict, located: yamlsource.Located, prefix: tuple = ()) -> Problem:
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


def load_script(path: str | Path, scenes=None, demos=None) -> Script:
    """Load, parse and validate an episode script.

    `scenes` (bilicast.scenekit.SceneRegistry) and `demos` (bilicast.bench.DemoRegistry),
    when given, check scene and demo names and their params too.
    """
    path = Path(path)
    located = yamlsource.load(path)
    if not isinstance(located.data, dict):
        raise ScriptProblems(str(path), [Problem(1, 1, "", "the script must be a mapping with `episode:` and `segments:`",
                                                 "start the file with `episode:`")])
    try:
        script = Script.model_validate(located.data)
    except ValidationError as e:
        problems = [_problem_from_error(err, located) for err in e.errors()]
        raise ScriptProblems(str(path), _dedupe(problems)) from None
    problems = _check_segments(script, located, scenes) + _check_bench(script, located, demos)
    if problems:
        raise ScriptProblems(str(path), problems)
    return script


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        if (p.line, p.column, p.message) not in seen:
            seen.add((p.line, p.column, p.message))
            out.append(p)
    return out


def _check_segments(script: Script, located, scenes) -> list[Problem]:
    """Checks across fields: unique ids, known scenes and their params."""
    problems = []
    seen = {}
    for i, seg in enumerate(script.segments):
        if seg.id in seen:
            line, col = located.position(("segments", i, "id"))
            problems.append(Problem(line, col, f"segments[{i}].id",
                                    f"duplicate segment id '{seg.id}' (also segments[{seen[seg.id]}])",
                                    "give every segment its own id"))
        seen.setdefault(seg.id, i)
        if not seg.narration and seg.min_duration <= 0:
            line, col = located.position(("segments", i))
            problems.append(Problem(line, col, f"segments[{i}]", "the segment has no narration and no min_duration",
                                    "add narration lines, or `min_duration: 3` for a silent shot"))
        if scenes is None:
            continue
        scene_cls = scenes.get(seg.scene)
        if scene_cls is None:
            line, col = located.position(("segments", i, "scene"))
            close = difflib.get_close_matches(seg.scene, scenes.names(), n=1)
            problems.append(Problem(line, col, f"segments[{i}].scene", f"unknown scene '{seg.scene}'",
                                    (f"did you mean '{close[0]}'? " if close else "")
                                    + "scenes in scenes/: " + ", ".join(scenes.names())))
            continue
        try:
            scene_cls.Params.model_validate(seg.params)
        except ValidationError as e:
            problems += [_problem_from_error(err, located, ("segments", i, "params")) for err in e.errors()]
    return _dedupe(problems)


def _check_bench(script: Script, located, demos) -> list[Problem]:
    if demos is None:
        return []
    problems = []
    for key, entry in script.bench.items():
        if entry.demo not in demos.names():
            line, col = located.position(("bench", key, "demo"))
            close = difflib.get_close_matches(entry.demo, demos.names(), n=1)
            problems.append(Problem(line, col, f"bench.{key}.demo", f"unknown demo '{entry.demo}'",
                                    (f"did you mean '{close[0]}'? " if close else "")
                                    + "demos in demos/: " + ", ".join(demos.names())))
            continue
        try:
            demos.module(entry.demo).Params.model_validate(entry.params)
        except ValidationError as e:
            problems += [_problem_from_error(err, located, ("bench", key, "params")) for err in e.errors()]
    return problems


def reading_seconds(text: str, chars_per_second: float) -> float:
    """Speaking time estimate: CJK characters count one each, a Latin word or
    number about one and a half, punctuation adds a short pause."""
    cjk = len(re.findall(r"[\u3400-\u9fff\uf900-\ufaff]", text))
    words = len(re.findall(r"[A-Za-z0-9]+(?:[.\-'][A-Za-z0-9]+)*", text))
    pauses = len(re.findall(r"[，。！？；：、,.!?;:]", text))
    return (cjk + 1.5 * words) / chars_per_second + 0.15 * pauses
