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
        self.holds: list[tuple[int, int]] = []   # (index of a rendered frame, extra copies of it)
        self.held_frames = 0
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

    # Holds are where explainer videos spend most of their time. Manim renders
    # one frame of a held picture; `holds` records how many more copies of it
    # the finishing step (ffmpeg's loop filter) puts in, so Manim never renders
    # or encodes the still frames.
    @property
    def fps(self) -> int:
        return self.camera.frame_rate

    @property
    def now(self) -> float:
        """Segment time (seconds) of the next frame, holds included."""
        return (round(self.renderer.time * self.fps) + self.held_frames) / self.fps

    def wait_until(self, t: float) -> None:
        """Hold the picture until segment time t (seconds)."""
        frames = round((t - self.now) * self.fps)
        if frames <= 0:
            return
        if self.timing.get("render_holds"):   # plain Manim behaviour (benchmarks compare against it)
            self.wait(frames / self.fps)
            return
        self.wait(1 / self.fps)
        if frames > 1:
            self.holds.append((round(self.renderer.time * self.fps) - 1, frames - 1))
            self.held_frames += frames - 1

    # -- beats -------------------------------------------------------------
    # A scene with beats overrides beat_count() (e.g. one per step) and plays
    # beat k with play_beat(k, *animations). bilicast decides when each beat
    # starts and how long it may take (see bilicast/timeline.py).
    beat_seconds = 0.8   # how long one beat's animation takes when it has room

    @classmethod
    def beat_count(cls, params) -> int:
        return 0

    def play_beat(self, k: int, *animations) -> None:
        start, run_time = self.timing["beats"][str(k)]
        # A play's first frame still shows the old picture: start one frame
        # early so the first changed frame lands on the planned start.
        self.wait_until(start - 1 / self.fps)
        # Ease-out: the change is visible from the first frame, so the beat lands on the word.
        self.play(*animations, run_time=run_time, rate_func=mn.rate_functions.ease_out_cubic)

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
                if (inspect.isclass(obj) and issubclass(obj, BilicastScene) and not name.startswith("_")
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
