"""What the stages hand each other: the plan's jobs (a segment, its chart,
a transition head, a segment's audio mix) and the record a Manim run leaves.
Frozen: a stage that needs a changed copy (the build adds the subtitles, the
Ray executor makes paths relative) makes one with dataclasses.replace. They
pickle as they are, to worker processes and to Ray workers.

Paths are str where they travel to other processes and land in keys or
manifests as text; Path where they stay in this process."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cache import Target
    from .timeline import SegmentTiming


@dataclass(frozen=True)
class Overlay:
    """A chart composited over a finished segment."""
    png: str              # the chart's PNG (in the cache; on a Ray worker, in its folder)
    x: int                # its top left corner on the frame, px
    y: int
    start: float          # seconds into the segment when it starts fading in
    png_bytes: bytes = b""   # the PNG itself, on its way to a Ray worker (farm.portable)


@dataclass(frozen=True)
class Stamp:
    """A still picture laid over a finished segment from its start (the
    AI-content label): added at finishing, never part of the animation."""
    png: str              # RGBA, in the cache (on a Ray worker, in its folder)
    x: int                # its top left corner on the frame, px
    y: int
    until: float | None   # seconds into the segment it shows until (None: to the end)
    png_bytes: bytes = b""   # the PNG itself, on its way to a Ray worker (farm.portable)

    def shape(self, t0: float, t1: float) -> list | None:
        """What it shows in the part of the segment from t0 to t1 seconds in
        (None: nothing), as that part's cache key sees it."""
        if self.until is not None and self.until <= t0:
            return None
        until = None if self.until is None or self.until >= t1 else round(self.until - t0, 6)
        return [Path(self.png).name, self.x, self.y, until]


@dataclass(frozen=True)
class ChartJob:
    """A segment's chart: where its PNG is cached and what build.draw_chart needs to draw it."""
    index: int            # the segment's index in the script
    segment: str          # the segment's id
    file: str             # the results file it draws (a key of Resolution.results)
    size: tuple[int, int]  # the chart's width and height, px
    short_side: int       # the video's short side, px (sizes the chart's text)
    png: str
    x: int                # where it goes on the frame, px
    y: int
    start: float          # seconds into the segment when it shows
    made: Target | None = field(default=None, compare=False)   # its cache target (remembered once drawn)

    def overlay(self) -> Overlay:
        return Overlay(self.png, self.x, self.y, self.start)


@dataclass(frozen=True)
class BurnIn:
    """What a segment's burned-in subtitles are made from (subtitles.segment_ass,
    at build time: wrapping needs jieba's dictionary)."""
    timing: SegmentTiming
    max_chars: int        # subtitle line length in this variant
    font: str
    margin: float         # the variant's subtitle margin
    workspace: Path       # where the subtitle template may be overridden
    en: tuple[str, ...] = ()   # bilingual: each line's English ("": none); empty: Chinese only


@dataclass(frozen=True)
class SegmentJob:
    """One segment to render: everything that shapes its picture, its key and where its files go."""
    segment: str          # the segment's id
    scene_name: str       # module.Class, as the script names it
    scene_file: str       # the scene's source (relative to the workspace on its way to Ray)
    scene_class: str
    params: dict[str, Any]   # the scene's resolved params
    timing: dict[str, Any]   # what the scene is given: SegmentTiming.for_scene()
    frames: int           # the finished segment's frame count
    style: dict[str, Any]    # Style.model_dump()
    width: int
    height: int
    fps: int
    preview: bool
    variant: str
    overlay: Overlay | None
    chart: ChartJob | None   # drawn before the segment is built
    files: dict[str, str]    # files the scene shows: name in the script -> path
    burn_in: BurnIn | None   # None: no burned-in subtitles (or not needed: on a Ray worker)
    key: str
    slug: str             # <segment>-<key[:16]>: Manim's output file name
    components: dict[str, str]   # what the key digests, by name (`plan` says why a segment rebuilds)
    target: str           # the finished segment in the cache
    raw: str              # Manim's animation in the cache; its AnimationRecord beside it (.json)
    scratch: str          # folder for a build's scratch folders
    chunks: str           # folder of the finished segment's encoded chunks
    manifest: str         # the last build's key, components and time ("" on a Ray worker)
    ass: str | None = None   # the burned-in subtitles' ASS text ("" none), made by build.render_segments
    animation: Target | None = None   # `raw`'s cache target (remembered once it is made)
    stamps: tuple[Stamp, ...] = ()   # pictures laid over it at finishing (the AI-content label)


@dataclass(frozen=True)
class TransitionHead:
    """A segment's first frames re-encoded over the previous segment's last picture."""
    kind: str             # ffmpeg's xfade transition (fade, slideleft, …)
    before: str           # the previous segment's finished file
    segment: str          # this segment's finished file
    fps: int
    preview: bool
    frames: int           # how long the head lasts
    key: str
    target: str
    made: Target | None = field(default=None, compare=False)   # its cache target (remembered once it is made)


@dataclass(frozen=True)
class Mix:
    """One segment's audio mix (cached by what is heard in it)."""
    index: int            # the segment's index in the timeline
    start: float          # the segment's start in the episode, seconds
    duration: float
    voice: list[tuple[Path, float]]   # voice clips: (file, seconds into the segment)
    # the beds heard in it (assemble.Bed: file, volume, duck, and where its cross-fade in
    # and out begin, episode seconds), each looped on the episode's clock
    music: tuple[tuple[Path, float, float, float | None, float | None], ...]
    intervals: list[tuple[float, float]]   # when lines are spoken near it (episode seconds): the music ducks
    key: str
    target: Path          # the mix in the cache (.npz)


@dataclass(frozen=True)
class AnimationRecord:
    """What a Manim run leaves beside its movie (<raw>.json): the movie is
    used only with it."""
    holds: list[tuple[int, str]]   # (index of a rendered frame, what it is held until)
    frames: int           # frames in the movie
    texts: list[dict] = field(default_factory=list)   # its final picture's texts (legible.text_layout)

    @staticmethod
    def path(raw: str | Path) -> Path:
        return Path(raw).with_suffix(".json")

    def to_json(self) -> str:
        return json.dumps({"holds": self.holds, "frames": self.frames, "texts": self.texts}, ensure_ascii=False)

    @classmethod
    def read(cls, raw: str | Path) -> AnimationRecord:
        made = json.loads(cls.path(raw).read_text(encoding="utf-8"))
        return cls([(index, event) for index, event in made["holds"]], made["frames"], made.get("texts", []))
