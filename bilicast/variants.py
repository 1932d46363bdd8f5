"""Output variants: cuts of one episode for different screens, from the
same script, voice, audio and results (docs/variants.md).

- `main`: 16:9 landscape at the episode's output resolution (as always).
- `vertical`: 9:16 portrait (1080x1920 at 1080p) for Bilibili's vertical
  player. Its lowest fifth sits under the player's title, buttons and
  comment box, so subtitles rise above it.

A variant fixes the pixel size, the Manim frame the scenes lay out in
(`Frame`), the subtitle band, the subtitle line length and the cover sizes.
"""
from __future__ import annotations

from dataclasses import dataclass

VARIANTS = ("main", "vertical")
SHORT_SIDE_UNITS = 8.0   # Manim units across the frame's short side: 135 px per unit at 1080p either way
SAFE_MARGIN = 0.05       # title-safe margin, a fraction of each side


@dataclass(frozen=True)
class Frame:
    """The picture a scene lays out in, in Manim units (origin at the centre)."""
    width: float
    height: float
    subtitle_top: float   # nothing is drawn below this y: the burned-in subtitles' band

    @property
    def portrait(self) -> bool:
        return self.height > self.width

    @property
    def right(self) -> float:
        """The title-safe area's right edge (left is -right)."""
        return self.width / 2 * (1 - 2 * SAFE_MARGIN)

    @property
    def top(self) -> float:
        """The title-safe area's top edge."""
        return self.height / 2 * (1 - 2 * SAFE_MARGIN)


@dataclass(frozen=True)
class Variant:
    name: str
    portrait: bool
    subtitle_margin: float   # subtitles' bottom edge above the frame's bottom, a fraction of its height
    subtitle_band: float     # the band's height in Manim units (two lines and their outline)

    def size(self, landscape: tuple[int, int]) -> tuple[int, int]:
        """Pixel size for a landscape size (the episode's resolution or the preview's)."""
        w, h = landscape
        return (h, w) if self.portrait else (w, h)

    def frame(self, width: int, height: int) -> Frame:
        short, long = sorted((width, height))
        across = SHORT_SIDE_UNITS * long / short
        w, h = (SHORT_SIDE_UNITS, across) if self.portrait else (across, SHORT_SIDE_UNITS)
        return Frame(w, h, -h / 2 + h * self.subtitle_margin + self.subtitle_band)

    def subtitle_chars(self, width: int, height: int, max_chars: int) -> int:
        """Full-width characters per subtitle line: the script's max_chars, or
        fewer where the line would not fit the width (subtitle font size is
        5.8 % of the short side, as in templates/subtitles.ass.j2)."""
        fits = int(width * (1 - 2 * 0.06) / (0.058 * min(width, height)))
        return min(max_chars, fits)


BUILTIN = {
    "main": Variant("main", portrait=False, subtitle_margin=0.05, subtitle_band=1.0),
    "vertical": Variant("vertical", portrait=True, subtitle_margin=0.2, subtitle_band=1.3),
}
