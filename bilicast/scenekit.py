"""What scene authors build on: the BilicastScene base class and the registry
that finds scenes in the workspace's scenes/ folder.

A scene is a Manim Scene subclass with a pydantic `Params` model. bilicast
constructs it with the validated params, the segment's timing and the episode
style; `build()` draws and animates, and the base class holds the last frame
until the segment's planned duration is reached.
"""
from __future__ import annotations

import inspect
from pathlib import Path

import manim as mn

from .script import Strict
from .workspace import import_file

# Everything a scene draws stays above this y (Manim units; the frame spans
# -4..4 vertically) so burned-in subtitles never cover it.
SUBTITLE_TOP = -2.6


class SceneParams(Strict):
    """Base for a scene's Params: unknown keys are errors, like everywhere in a script."""


class BilicastScene(mn.Scene):
    Params = SceneParams

    def __init__(self, params: dict, timing: dict, style: dict, **kwargs):
        self.params = self.Params.model_validate(params)
        self.timing = timing          # {"duration": s, "lines": [{"start", "end", "text"}]}
        self.style = style
        super().__init__(**kwargs)

    # -- for scene authors -------------------------------------------------
    def build(self) -> None:
        raise NotImplementedError

    def text(self, content: str, size: float = 40, color: str | None = None, bold: bool = False,
             max_width: float = 12.5) -> mn.Text:
        """Text in the episode's CJK font, shrunk to max_width if needed."""
        t = mn.Text(content, font=self.style["font"], font_size=size,
                    color=color or self.style["foreground"], weight=mn.BOLD if bold else mn.NORMAL)
        if t.width > max_width:
            t.scale_to_fit_width(max_width)
        return t

    @property
    def now(self) -> float:
        return self.renderer.time

    def wait_until(self, t: float) -> None:
        """Hold the picture until segment time t (seconds)."""
        if t - self.now > 1e-3:
            self.wait(t - self.now)

    def reveal_times(self, count: int) -> list[float]:
        """When to bring in `count` items: spread across the narration (one per
        line while there are lines), starting right away."""
        lines = self.timing["lines"]
        if not lines:
            span = self.timing["duration"] * 0.7
            return [0.3 + span * i / max(count, 1) for i in range(count)]
        starts = [ln["start"] for ln in lines]
        if count <= len(starts):
            return starts[:count]
        end = lines[-1]["end"]
        extra = count - len(starts) + 1
        tail_start = starts[-1]
        return starts[:-1] + [tail_start + (end - tail_start) * i / extra for i in range(extra)]

    # -- driven by bilicast -----------------------------------------------
    def construct(self) -> None:
        self.camera.background_color = self.style["background"]
        self.build()
        self.wait_until(self.timing["duration"])


class SceneRegistry:
    """Finds BilicastScene classes in <workspace>/scenes/*.py, named module.Class."""

    def __init__(self, workspace: Path):
        self.folder = Path(workspace) / "scenes"
        self._scenes: dict[str, type] = {}
        for file in sorted(self.folder.glob("*.py")):
            if file.name.startswith("_"):
                continue
            module = import_file(file, "scenes")
            for name, obj in vars(module).items():
                if (inspect.isclass(obj) and issubclass(obj, BilicastScene) and obj is not BilicastScene
                        and obj.__module__ == module.__name__):
                    self._scenes[f"{file.stem}.{name}"] = obj

    def names(self) -> list[str]:
        return sorted(self._scenes)

    def get(self, name: str):
        return self._scenes.get(name)

    def source_file(self, name: str) -> Path:
        return self.folder / (name.split(".")[0] + ".py")


def load_scene_class(file: str, class_name: str):
    """Used in render workers: import one scene class from its file."""
    return getattr(import_file(Path(file), "scenes"), class_name)
