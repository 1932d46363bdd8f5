"""What scene authors build on: the BilicastScene base class and the registry
that finds scenes in the workspace's scenes/ folder.

A scene is a BilicastScene subclass with a pydantic `Params` model. bilicast
constructs it with the validated params, the segment's timing and the episode
style; `build()` draws and animates, and the base class holds the last frame
until the segment's planned duration is reached.

Scenes reach Manim through `mn` (`from bilicast.scenekit import mn`), which
imports Manim on first use: validating and planning read a scene's Params
and beats without paying Manim's ~1 s import. For the same reason a
BilicastScene becomes a Manim Scene only when it renders (load_scene_class).
A scene may still `from manim import ...`; it then loads Manim when imported.
"""
from __future__ import annotations

import functools
import importlib
import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .legible import text_layout
from .strict import Strict
from .variants import Frame, get
from .workspace import import_file

# The landscape frame's subtitle band top (Manim units; that frame spans -4..4
# vertically). Scenes lay out against self.frame, which knows every variant's.
SUBTITLE_TOP = get("main").frame(1920, 1080).subtitle_top
MUTED = "#c8ccd4"   # secondary text: captions, settings, axis titles


class _LazyManim:
    """The manim module, imported when an attribute is first asked for."""

    def __getattr__(self, name: str):
        return getattr(importlib.import_module("manim"), name)


if TYPE_CHECKING:
    import manim as mn
else:
    mn = _LazyManim()


class SceneParams(Strict):
    """Base for a scene's Params: unknown keys are errors, like everywhere in a script."""


def hold_target(timing: dict, event: str, fps: int) -> float:
    """Segment time (seconds) a hold lasts until: one frame before beat K
    starts (`beat:K`), the segment's end (`end`), or a time (`at:SECONDS`)."""
    if event == "end":
        return timing["duration"]
    if event.startswith("at:"):
        return float(event[3:])
    return timing["beats"][event.split(":", 1)[1]][0] - 1 / fps


class BilicastScene:
    """Rendered as a Manim Scene: see load_scene_class."""
    Params = SceneParams
    if TYPE_CHECKING:   # Manim's Scene, which a rendering scene has behind it (runnable)
        camera: Any
        renderer: Any

        def play(self, *animations: Any, **kwargs: Any) -> None: ...
        def add(self, *mobjects: Any) -> Any: ...
        def wait(self, duration: float = ...) -> None: ...

    def __init__(self, params: dict, timing: dict, style: dict, files: dict | None = None,
                 frame: Frame | None = None, **kwargs):
        self.params = self.Params.model_validate(params)
        # the picture to lay out in (Manim units): 14.2 x 8 in the main cut, 8 x 14.2 in the vertical one;
        # lay out by its room (frame.narrow, frame.fits_across), never by which variant it is
        self.frame = frame or get("main").frame(16, 9)
        self.files = files or {}      # workspace-relative path -> absolute path, for what reads_files() names
        # {"beats": {"k": [None, run seconds]}}: a scene sees how long each beat's
        # animation runs, not when it starts; that is the segment's timing,
        # applied when the holds are expanded (finish.hold_frames), so the
        # animation is cached apart from it
        self.timing = timing
        from .fonts import scene_style   # a workspace font file (assets/fonts/) registered with Pango, by family
        self.style = scene_style(style, type(self))
        self.holds: list[tuple[int, str]] = []   # (index of a rendered frame, what it is held until)
        self.layout: list[dict] = []
        super().__init__(**kwargs)

    # -- for scene authors -------------------------------------------------
    def build(self) -> None:
        raise NotImplementedError

    def text(self, content: str, size: float = 40, color: str | None = None, bold: bool = False,
             max_width: float | None = None) -> mn.Text:
        """Text in the episode's CJK font, shrunk to max_width (default: the
        title-safe width less a little) if needed (bilicast/legible.py sets
        how far: wrap text that would shrink more)."""
        max_width = max_width or 2 * self.frame.right - 0.3
        t = mn.Text(content, font=self.style["font"], font_size=size,
                    color=color or self.style["foreground"], weight=mn.BOLD if bold else mn.NORMAL)
        if t.width > max_width:
            t.scale_to_fit_width(max_width)
        return t

    def label(self, content: str, size: float = 32, max_width: float = 4.0, max_lines: int = 3,
              color: str | None = None, bold: bool = False, align_left: bool = False) -> mn.Mobject:
        """Text that fits max_width without becoming illegible: one line if it
        fits, else wrapped between words (up to max_lines, centred or left
        aligned), shrinking no further than the legibility rules' smallest size."""
        edge = mn.LEFT if align_left else mn.ORIGIN
        from .legible import min_font_size
        from .subtitles import width as text_width
        from .subtitles import wrap
        least = min_font_size(self.style["font"])
        sizes = [size * f for f in (1, 0.9, 0.8, 0.7, 0.6, 0.5) if size * f >= least] + [least]
        for s in sizes:
            one = self.text(content, size=s, color=color, bold=bold, max_width=1e9)
            if one.width <= max_width:
                return one
            for n in range(2, max_lines + 1):
                lines = wrap(content, max(2, -(-int(text_width(content) + 0.5) // n)))
                if len(lines) > max_lines:
                    continue
                group = mn.VGroup(*[self.text(ln, size=s, color=color, bold=bold, max_width=1e9)
                                    for ln in lines]).arrange(mn.DOWN, buff=0.08, aligned_edge=edge)
                if group.width <= max_width:
                    return group
        # more lines than asked for rather than text too small to read
        per_line = max(2, int(max_width / (self.text("国" * 10, size=least, max_width=1e9).width / 10)))   # with spacing
        return mn.VGroup(*[self.text(ln, size=least, color=color, bold=bold, max_width=max_width)
                           for ln in wrap(content, per_line)]).arrange(mn.DOWN, buff=0.08, aligned_edge=edge)

    @property
    def danmaku_safe(self) -> bool:
        """Whether the episode's style asks for titles and key numbers below
        the danmaku band (`style.layout: danmaku_safe`)."""
        return self.style.get("layout") == "danmaku_safe"

    @property
    def key_top(self) -> float:
        """The highest y a title or key number may reach: the title-safe top,
        or under `layout: danmaku_safe` the danmaku band's lower edge
        (frame.danmaku_bottom) where that is lower."""
        return min(self.frame.top, self.frame.danmaku_bottom) if self.danmaku_safe else self.frame.top

    def show_title(self, title: str, size: float = 52, y: float = 3.2, below: float = 2.4,
                   without: float = 3.0) -> float:
        """Fade in a centred title at height y; returns the top of the space
        left for the content (`below`, or `without` when there is no title).
        y, below and without are for the landscape frame (title-safe top
        3.6); in a taller frame they keep their distance from its title-safe
        top, and a title too wide for the frame wraps. Under `layout:
        danmaku_safe` they keep it from key_top instead (a y under 3.2 that
        left room for the provenance line above rises to 3.2: the line is
        far above), and everything under the title moves down with it."""
        shift = self.frame.top - 3.6
        if self.danmaku_safe:
            shift = min(shift, self.key_top - 3.6 + max(0.0, 3.2 - y))
        if not title:
            return without + shift
        heading = self.label(title, size=size, bold=True, max_width=2 * self.frame.right - 0.3, max_lines=2)
        single = self.text("国", size=size, bold=True).height   # one line's height: a wrapped title grows downwards
        heading.move_to((0, y + shift - max(0.0, heading.height - single) / 2, 0))
        self.play(mn.FadeIn(heading, shift=mn.DOWN * 0.2), run_time=0.5)
        return below + shift - max(0.0, heading.height - single)

    def show_provenance(self) -> None:
        """The params' provenance line (data scenes have one, filled from the
        results they show), if any, in the top-right corner."""
        provenance = getattr(self.params, "provenance", "")
        if provenance:
            self.add(self.note(provenance))

    def caption(self, content: str) -> mn.Mobject:
        """A muted line (two at most) centred just above the subtitle band."""
        text = self.label(content, size=28, color=MUTED, max_width=2 * self.frame.right - 0.3, max_lines=2)
        return text.move_to((0, self.frame.subtitle_top + 0.05 + text.height / 2, 0))

    def note(self, content: str) -> mn.Text:
        """The small provenance line, top right inside the title-safe area
        (the bottom belongs to the subtitles)."""
        t = self.text(content, size=18, color="#9aa0aa", max_width=min(7.5, 2 * self.frame.right))
        t.bilicast_role = "note"   # type: ignore[attr-defined]  # read by legible.text_layout
        return t.move_to((self.frame.right - t.width / 2, self.frame.top - t.height / 2, 0))

    # Holds are where explainer videos spend most of their time. Manim renders
    # one frame of a held picture and `holds` records what it is held until
    # (a beat's start, or the end); the finishing step (finish.hold_frames)
    # turns that into copies of the frame from the segment's timing, so Manim
    # never renders the still frames, and a change of timing alone (a reworded
    # line) reuses the rendered animation.
    @property
    def fps(self) -> int:
        return self.camera.frame_rate

    def wait_until(self, t: float) -> None:
        """Hold the picture until t seconds into the segment."""
        self.hold_until(f"at:{t:.6f}")

    def hold_until(self, event: str) -> None:
        """Hold the picture until `beat:K` (one frame before beat K starts), `end` or `at:SECONDS`."""
        if self.timing.get("render_holds"):   # plain Manim behaviour (benchmarks compare against it)
            frames = round((hold_target(self.timing, event, self.fps) - self.renderer.time) * self.fps)
            if frames > 0:
                self.wait(frames / self.fps)
            return
        self.wait(1 / self.fps)
        self.holds.append((round(self.renderer.time * self.fps) - 1, event))

    # -- beats -------------------------------------------------------------
    # A scene with beats overrides beat_count() (e.g. one per step) and plays
    # beat k with play_beat(k, *animations). bilicast decides when each beat
    # starts and how long it may take (see bilicast/timeline.py).
    beat_seconds = 0.8   # how long one beat's animation takes when it has room
    # a scene that keeps the right half of a landscape frame free, for a chart
    # overlay at `position: right` (the others lay out across the whole frame)
    overlay_room = False

    @classmethod
    def beat_count(cls, params) -> int:
        return 0

    @classmethod
    def reads_files(cls, params) -> list[str]:
        """Workspace files the picture is drawn from (e.g. code shown on
        screen): their contents join the segment's key."""
        return []

    @classmethod
    def check_files(cls, params, files: dict) -> list[tuple[str, str]]:
        """(param name, problem) for what the files named by reads_files()
        can't give (checked at validation; files: name -> absolute path)."""
        return []

    def play_beat(self, k: int, *animations) -> None:
        run_time = self.timing["beats"][str(k)][1]
        # A play's first frame still shows the old picture: it starts one frame
        # early (hold_target) so the first changed frame lands on the planned start.
        self.hold_until(f"beat:{k}")
        # Ease-out: the change is visible from the first frame, so the beat lands on the word.
        self.play(*animations, run_time=run_time, rate_func=mn.rate_functions.ease_out_cubic)

    # -- driven by bilicast -----------------------------------------------
    def construct(self) -> None:
        self.camera.background_color = self.style["background"]
        self.build()
        self.layout = text_layout(self)   # the texts of the final picture, for the legibility rules
        self.hold_until("end")


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
    """Used to render: one scene class from its file, as a Manim Scene."""
    return runnable(getattr(import_file(Path(file), "scenes"), class_name))


@functools.lru_cache(maxsize=None)
def runnable(scene_cls: type) -> type:
    """The scene class with Manim's Scene behind it (after BilicastScene in
    the method order, so the scene's construct() and helpers win)."""
    if issubclass(scene_cls, mn.Scene):   # a scene that subclasses Manim itself
        return scene_cls
    return type(scene_cls.__name__, (scene_cls, mn.Scene), {"__module__": scene_cls.__module__})
