"""The resolved-episode stage: a validated script with its templates filled
from the current results, provenance lines included, and every file it shows
checked. Read-only for everything after it."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from .script import Script
from .workspace import shown_file
from .yamlsource import ScriptProblems

if TYPE_CHECKING:
    from .resolve import Resolution
    from .scenekit import SceneRegistry
    from .yamlsource import Located


@dataclass
class ResolvedEpisode:
    """A loaded script with its templates filled in from the current results."""
    path: Path
    script: Script            # resolved
    raw: Script               # as written (templates unfilled)
    located: Located          # where each value of the script is (line, column), for errors
    scenes: SceneRegistry
    workspace: Path
    resolution: Resolution | None   # None when the script uses no results (or validating without them)


def load_episode(path: str | Path, require_results: bool = True) -> ResolvedEpisode:
    from .bench import DemoRegistry
    from .channel import renumbered
    from .scenekit import SceneRegistry
    from .script import load_script_located
    from .workspace import find_workspace

    path = Path(path)
    workspace = find_workspace(path)
    scenes = SceneRegistry(workspace)
    demos = DemoRegistry(workspace)
    script, located = load_script_located(path, scenes, demos, workspace)
    try:
        return _resolved(path, script, located, scenes, demos, workspace, require_results)
    except ScriptProblems as e:   # numbered as the script numbers its segments
        raise renumbered(e, located) from None


def _resolved(path: Path, script: Script, located, scenes, demos, workspace: Path,
              require_results: bool) -> ResolvedEpisode:
    from . import measured, resolve
    from .channel import located_in_channel
    from .fonts import coverage_problems
    from .script import validate_resolved
    fonts = coverage_problems(script, located, workspace)   # every text shown has glyphs in the font
    if fonts:
        raise ScriptProblems(str(path), [located_in_channel(p, script, located) for p in fonts])
    _check_overlay_room(script, located, path, scenes)
    try:
        names, files, key_files = measured.load_results(script, demos, workspace / "results")
    except measured.MissingResult:
        if require_results:
            raise
        _check_shown_files(script, located, path, scenes, workspace)
        return ResolvedEpisode(path, script, script, located, scenes, workspace, None)   # validate without results
    resolution = resolve.resolve(script, located, str(path), names, files, key_files)
    _check_chart_data(script, located, path, resolution, workspace)
    resolved = validate_resolved(_with_provenance(resolution, scenes), located, path, scenes)
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
        found = {name: file for name in names if (file := shown_file(workspace, name))}
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


def _check_overlay_room(script: Script, located, path: Path, scenes) -> None:
    """A chart on the right half needs a scene that keeps that half free:
    over any other it would cover the scene's own text."""
    from .yamlsource import Problem, ScriptProblems
    problems = []
    for i, seg in enumerate(script.segments):
        if seg.overlay and seg.overlay.position == "right" and not scenes.get(seg.scene).overlay_room:
            line, col = located.position(("segments", i, "overlay", "position"))
            problems.append(Problem(line, col, f"segments[{i}].overlay.position",
                                    f"{seg.scene} lays out across the whole frame: a chart on its right half "
                                    "would cover it", "show the chart beside titles.Heading (it keeps the right "
                                    "half free), or over the whole picture with position: full; a scene of "
                                    "your own that keeps the right half free says so with overlay_room = True"))
    if problems:
        raise ScriptProblems(str(path), problems)


def _check_chart_data(script: Script, located, path: Path, resolution, workspace: Path) -> None:
    """A chart with nothing to draw is a script error, not an empty pair of axes."""
    from .charts import data_problem
    from .yamlsource import Problem, ScriptProblems
    problems = []
    for i, seg in enumerate(script.segments):
        if seg.overlay and seg.overlay.data not in resolution.key_files:   # measured only on cluster nodes
            line, col = located.position(("segments", i, "overlay", "data"))
            problems.append(Problem(line, col, f"segments[{i}].overlay.data",
                                    f"'{seg.overlay.data}' has no result measured here",
                                    f"run `bilicast bench SCRIPT`; results there are: {', '.join(resolution.key_files)}"))
        elif seg.overlay:
            result = resolution.results[resolution.key_files[seg.overlay.data]]
            problem = data_problem(seg.overlay.chart, result, seg.overlay.fields, workspace)
            if problem:
                field = "fields" if seg.overlay.fields else "chart"
                line, col = located.position(("segments", i, "overlay", field))
                problems.append(Problem(line, col, f"segments[{i}].overlay.{field}", *problem))
    if problems:
        raise ScriptProblems(str(path), problems)


def _with_provenance(resolution, scenes) -> dict:
    """The resolved script data, where data scenes show where their numbers
    were measured: `provenance` filled from the results their params use,
    unless the script sets it."""
    from .measured import provenance_line, sources
    data = copy.deepcopy(resolution.data)
    for i, seg in enumerate(data["segments"]):
        scene_cls = scenes.get(seg["scene"])
        if scene_cls is None or "provenance" not in scene_cls.Params.model_fields or "provenance" in seg["params"]:
            continue
        files = {f for n in resolution.numbers if n.where.startswith(f"segments[{i}].params")
                 for f, _ in sources(n.expr)}
        if files:
            seg["params"]["provenance"] = " / ".join(sorted({provenance_line(resolution.results[f], f) for f in files}))
    return data
