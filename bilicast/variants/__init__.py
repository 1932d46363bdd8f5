"""Output variants: cuts of one episode for different screens, from the
same script, voice, audio and results (docs/variants.md), one module each:
bilicast/variants/<name>.py, or variants/<name>.py in the workspace for a
creator's own. A module defines `VARIANT`, a Variant; the file's name is
what a script's `episode.variants` says.

A Variant is described by its geometry: its aspect, the title-safe margin,
the subtitle band, the danmaku band (where scrolling comments pass: key text
stays below it under `style.layout: danmaku_safe`), the covers, and where a
chart may go (the AI-content label goes in the title-safe area's corner:
docs/aigc.md). From it follow the pixel size, the Manim frame the scenes
lay out in (`Frame`), the subtitle line length and the bundle's cover
files. Scenes ask the frame how much room there is (`narrow`,
`fits_across`, `danmaku_bottom`), never which variant it is.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..registry import entries, entry

SHORT_SIDE_UNITS = 8.0   # Manim units across the frame's short side: 135 px per unit at 1080p, in every variant
SAFE_MARGIN = 0.05       # title-safe margin, a fraction of each side
NARROW = 12.0            # Manim units across below which a frame is too narrow for side-by-side layouts

Box = tuple[float, float, float, float]   # left, top, width, height: fractions of the frame, from its top left


@dataclass(frozen=True)
class Frame:
    """The picture a scene lays out in, in Manim units (origin at the centre)."""
    width: float
    height: float
    subtitle_top: float   # nothing is drawn below this y: the burned-in subtitles' band
    safe_margin: float = SAFE_MARGIN
    danmaku_band: float = 0.0   # the top fraction of the height where danmaku scroll (Variant.danmaku_band)

    @property
    def right(self) -> float:
        """The title-safe area's right edge (left is -right)."""
        return self.width / 2 * (1 - 2 * self.safe_margin)

    @property
    def top(self) -> float:
        """The title-safe area's top edge."""
        return self.height / 2 * (1 - 2 * self.safe_margin)

    @property
    def narrow(self) -> bool:
        """Fewer than NARROW units across: too narrow for the layouts that set
        things side by side (16:9 is 14.2 units across; 4:3 is 10.7, 1:1 and
        9:16 are 8): such a frame stacks them, wraps and keeps smaller margins."""
        return self.width < NARROW

    def fits_across(self, width: float) -> bool:
        """Whether `width` units fit across the title-safe area."""
        return width <= 2 * self.right

    @property
    def danmaku_bottom(self) -> float:
        """The danmaku band's lower edge (y): under `style.layout: danmaku_safe`
        titles and key numbers stay below it (BilicastScene.key_top). The
        frame's top edge when the variant has no band."""
        return self.height / 2 - self.height * self.danmaku_band


@dataclass(frozen=True)
class Cover:
    """A bundle's cover art in pixels: cover.jpg's size, the box its title and
    badge stay in (left, top, right, bottom), and crops of it saved beside it
    (file name -> left, top, right, bottom)."""
    size: tuple[int, int]
    safe: tuple[int, int, int, int]
    crops: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)

    def files(self) -> dict[str, tuple[int, int]]:
        """Each cover file's name and pixel size."""
        return {"cover.jpg": self.size, **{name: (r - left, b - t) for name, (left, t, r, b) in self.crops.items()}}


# Bilibili's landscape cover, 16:9, and its centred 4:3 crop: the title and
# badge stay inside the crop, and out of the bottom strip where the cards
# show play counts and the duration badge
LANDSCAPE_COVER = Cover((1920, 1080), (240 + 70, 90, 1680 - 70, 1080 - 190), {"cover_4x3.jpg": (240, 0, 1680, 1080)})


@dataclass(frozen=True)
class Variant:
    aspect: tuple[int, int]   # width : height
    subtitle_margin: float    # subtitles' bottom edge above the frame's bottom, a fraction of its height
    subtitle_band: float      # the band's height in Manim units (two lines and their outline)
    safe_margin: float = SAFE_MARGIN   # title-safe margin, a fraction of each side
    # the top of the frame where scrolling danmaku pass, a fraction of its height: kept clear of key text
    # under `style.layout: danmaku_safe`, and where the legibility warnings look (docs/variants.md)
    danmaku_band: float = 0.0
    chart_box: Box = (0.48, 0.08, 0.5, 0.72)   # where a chart overlay at `position: right` goes
    cover: Cover = LANDSCAPE_COVER

    @property
    def shape(self) -> str:
        """In words, e.g. `16:9 landscape`."""
        w, h = self.aspect
        return f"{w}:{h} " + ("landscape" if w > h else "vertical" if w < h else "square")

    def size(self, landscape: tuple[int, int]) -> tuple[int, int]:
        """Pixel size for a landscape size (the episode's resolution or the
        preview's): its short side stays, the long one follows the aspect
        (rounded to an even number: 854x480 is 16:9)."""
        w, h = self.aspect
        short = min(landscape)
        long = 2 * round(short * max(w, h) / min(w, h) / 2)
        return (long, short) if w > h else (short, long)

    def frame(self, width: int, height: int) -> Frame:
        short = min(width, height)
        w, h = SHORT_SIDE_UNITS * width / short, SHORT_SIDE_UNITS * height / short
        return Frame(w, h, -h / 2 + h * self.subtitle_margin + self.subtitle_band, self.safe_margin, self.danmaku_band)

    def subtitle_chars(self, width: int, height: int, max_chars: int) -> int:
        """Full-width characters per subtitle line: the script's max_chars, or
        fewer where the line would not fit the width (subtitle font size is
        5.8 % of the short side, as in templates/subtitles.ass.j2)."""
        fits = int(width * (1 - 2 * 0.06) / (0.058 * min(width, height)))
        return min(max_chars, fits)


def available(workspace: Path | None = None) -> dict[str, Variant]:
    return entries("variants", workspace, "VARIANT")   # type: ignore[return-value]


def get(name: str, workspace: Path | None = None) -> Variant:
    return entry("variants", name, workspace, "VARIANT", "variant")   # type: ignore[return-value]
