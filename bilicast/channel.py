"""The channel: `channel.yaml` at the workspace root (docs/channel.md), what
every episode of a channel shares: its name, logo, colours and font, voice
and lexicon, music bed, opening, end card, watermark and producer name.

It is read and checked like a script (file:line:column on error), then laid
under the script's data before the script is validated: a script's own
`channel:` block overrides any part of it, and the episode's own `style`,
`voice`, `pronounce`, `music`, `watermark` and `producer` win over the
channel's. So each part lands in the episode field that already shapes what
it shapes (style in the scenes' keys, music in the mixes', the watermark in
the finishing pass's), and enters no other cache key. With `intro: auto` and
`outro: auto` (the defaults) the opening and the end card become the first
and the last segment."""
from __future__ import annotations

import copy
import re
from pathlib import Path

from pydantic import ValidationError

from . import yamlsource
from .yamlsource import Located, Problem, ScriptProblems

FILE = "channel.yaml"
INHERITED = ("style", "voice", "pronounce", "music", "watermark")   # episode fields the channel gives defaults to
OPENING, END_CARD = "opening", "end-card"   # the segments' ids
OPENING_SCENE, END_CARD_SCENE = "brand.Opening", "brand.EndCard"


def channel_file(workspace: Path | None) -> Path | None:
    """The workspace's channel.yaml (None: it has none), named from the
    current folder when it is below it, as errors print it."""
    path = Path(workspace) / FILE if workspace else None
    if path is None or not path.is_file():
        return None
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def load_channel(workspace: Path | None, model, problems_of) -> Located | None:
    """channel.yaml, parsed and checked against `model` (script.Channel;
    `problems_of(error, located)` locates a validation error's problems),
    None: the workspace has none. The script module passes both in: it
    imports this one."""
    path = channel_file(workspace)
    if path is None:
        return None
    located = yamlsource.load(path)
    if not isinstance(located.data, dict):
        raise ScriptProblems(str(path), [Problem(1, 1, "", "channel.yaml must be a mapping (name:, style:, …)",
                                                 "start the file with `name: <your channel>`")])
    try:
        channel = model.model_validate(located.data)
    except ValidationError as e:
        raise ScriptProblems(str(path), problems_of(e, located)) from None
    problems = []
    if not channel.name:
        problems.append(Problem(1, 1, "name", "the channel has no name", "add `name: <your channel's name>`"))
    assert workspace is not None
    problems += _files(channel, located, Path(workspace))
    if "take" in located.data.get("voice", {}):
        line, col = located.position(("voice", "take"), key=True)
        problems.append(Problem(line, col, "voice.take", "a take is one episode's recording",
                                "give it in the episode's own voice: block"))
    if problems:
        raise ScriptProblems(str(path), problems)
    return located


def _files(channel, located: Located, workspace: Path) -> list[Problem]:
    """The logo and the music bed exist in the workspace; the logo is SVG or PNG."""
    from .workspace import outside_workspace
    problems = []
    for where, file in (("logo", channel.logo), ("music.file", channel.music and channel.music.file)):
        if not file:
            continue
        line, col = located.position(tuple(where.split(".")))
        if outside_workspace(file, workspace) is not None:
            problems.append(Problem(line, col, where, f"'{file}' is outside the workspace {workspace}",
                                    "keep the channel's files inside the workspace (e.g. assets/)"))
        elif not (workspace / file).is_file():
            problems.append(Problem(line, col, where, f"the file '{file}' does not exist",
                                    f"paths are relative to the workspace {workspace}"))
        elif where == "logo" and Path(file).suffix.lower() not in (".svg", ".png"):
            problems.append(Problem(line, col, where, f"'{file}' is not an SVG or PNG", "give the logo as .svg or .png"))
    return problems


def merge(under: dict, over: dict) -> dict:
    """`over` laid on `under`, mapping by mapping (a value in `over` wins)."""
    out = copy.deepcopy(under)
    for key, value in over.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) \
            else copy.deepcopy(value)
    return out


def apply(located: Located, path: Path, workspace: Path | None, model, problems_of) -> Located | None:
    """Lay the workspace's channel under the script's data (in place), and
    add the opening and end card segments it asks for (`model`, `problems_of`:
    as load_channel). Returns the channel file's Located (None: no
    channel.yaml and no `channel:` block)."""
    data = located.data
    if not isinstance(data, dict) or not isinstance(data.get("episode"), dict) \
            or not isinstance(data.get("segments"), list):
        return None   # the script's own validation says what is wrong
    source = load_channel(workspace, model, problems_of)
    own = data.get("channel")
    if source is None and not isinstance(own, dict):
        return None
    written = source.data if source and isinstance(source.data, dict) else {}   # load_channel checked it is
    channel = merge(written, own if isinstance(own, dict) else {})
    data["channel"] = channel
    if source is not None:
        located.channel = (str(channel_file(workspace)), source)
    episode = data["episode"]
    for key in INHERITED:
        if key in channel:
            mine = episode.get(key)
            episode[key] = merge(channel[key], mine) if isinstance(mine, dict) and isinstance(channel[key], dict) \
                else copy.deepcopy(channel[key]) if mine is None else mine
    if not episode.get("producer") and (channel.get("producer") or channel.get("name")):
        episode["producer"] = channel.get("producer") or channel.get("name")
    try:
        merged = model.model_validate(channel)
    except ValidationError:
        return source   # the script's own `channel:` is wrong: its validation says where
    _add_segments(located, merged)
    return source


def _add_segments(located: Located, channel) -> None:
    """The opening first and the end card last (`channel`: the merged
    script.Channel), unless the script says `intro: none` / `outro: none`
    or places them itself."""
    data = located.data
    assert isinstance(data, dict)   # apply checked it
    episode, segments = data["episode"], data["segments"]
    scenes = {s.get("scene") for s in segments if isinstance(s, dict)}
    if not channel.name or not segments:
        return   # script._check_channel says the name is missing; a script needs segments of its own
    brand = {"name": channel.name, **({"logo": channel.logo} if channel.logo else {})}
    at = located.position(("episode", "intro"))
    if channel.opening and episode.get("intro", "auto") == "auto" and OPENING_SCENE not in scenes:
        params = {**brand, **({"tagline": channel.opening.tagline} if channel.opening.tagline else {})}
        segments.insert(0, {"id": OPENING, "scene": OPENING_SCENE, "params": params,
                            "min_duration": channel.opening.seconds})
        _shift_segments(located, at)
    if channel.end_card and episode.get("outro", "auto") == "auto" and END_CARD_SCENE not in scenes:
        card = channel.end_card
        line = card.line.replace("{name}", channel.name)
        upcoming = episode.get("next")
        if upcoming:
            line += card.next_line.replace("{next}", str(upcoming))
        params = {**brand, "prompt": card.prompt, **({"next": upcoming} if upcoming else {})}
        segments.append({"id": END_CARD, "scene": END_CARD_SCENE, "params": params, "narration": [line],
                         "transition": "crossfade"})
        located.values[("segments", len(segments) - 1)] = located.position(("episode", "outro"))


def renumbered(problems: ScriptProblems, located: Located) -> ScriptProblems:
    """Problems as the creator numbers the segments: past an added opening,
    `segments[3]` of the episode is the script's `segments[2]`."""
    if not located.opening_added:
        return problems

    def fix(text: str) -> str:
        return re.sub(r"segments\[(\d+)\]", lambda m: f"segments[{int(m[1]) - 1}]" if int(m[1]) else
                      "the channel's opening", text)
    for p in problems.problems:
        p.where, p.message = fix(p.where), fix(p.message)
    return problems


def _shift_segments(located: Located, at: tuple[int, int]) -> None:
    """Segment positions move one down past an inserted first segment (which
    is placed at `at`), so errors still point at the right lines."""
    def shifted(table: dict) -> dict:
        return {(p[0], p[1] + 1, *p[2:]) if len(p) > 1 and p[0] == "segments" and isinstance(p[1], int) else p: v
                for p, v in table.items()}
    located.values, located.keys = shifted(located.values), shifted(located.keys)
    located.values[("segments", 0)] = at
    located.opening_added = True


def located_in_channel(problem: Problem, script, located: Located) -> Problem:
    """A problem with an episode field the channel gives (`episode.style.font`)
    pointed at channel.yaml's line for it, when the value comes from there."""
    field = problem.where.removeprefix("episode.")
    if located.channel is None or not problem.where.startswith("episode.") or \
            not origin(script, field).startswith("channel.yaml"):
        return problem
    file, there = located.channel
    if tuple(field.split(".")) not in there.values:
        return problem
    line, col = there.position(tuple(field.split(".")))
    return Problem(line, col, field, problem.message, problem.hint, file=file)


def origin(script, field: str) -> str:
    """Where an episode field's value (e.g. `style.accent`, `watermark`)
    comes from, for `plan`'s reasons: `channel.yaml <field>` when the channel
    gives it and the episode keeps it, else `episode.<field>`."""
    channel = script.channel
    if channel is None:
        return f"episode.{field}"
    here, there = script.episode, channel
    for part in field.split("."):
        here, there = getattr(here, part, None), getattr(there, part, None)
    return f"channel.yaml {field}" if there is not None and here == there else f"episode.{field}"
