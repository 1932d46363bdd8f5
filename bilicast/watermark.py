"""The channel's watermark: its logo in a corner of the frame's margin, at
an opacity, laid over every frame at finishing as a stamp (contracts.Stamp,
the same ffmpeg pass as the AI-content label), never part of an animation:
a changed watermark re-encodes every chunk, and renders nothing in Manim.

It sits outside the title-safe area, where the scenes never put text (the
legibility rules), so it covers none; and out of the subtitle band (a
bottom corner sits above it, in the side margin) and of the AI-content
label's box (which starts at the title-safe corner)."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from .script import Watermark
from .variants import Variant

GAP = 0.01   # between the watermark and the label or the subtitle band, a fraction of the short side


@dataclass(frozen=True)
class Placed:
    """The watermark on one size of frame: its box (left, top, width, height) in px."""
    spec: Watermark
    logo: Path
    box: tuple[int, int, int, int]

    def record(self) -> dict:
        return {"logo": self.logo.name, "box": list(self.box), **self.spec.model_dump()}


def logo_aspect(logo: Path) -> float:
    """Width / height of the logo as drawn (read once per version of the file:
    planning asks for it in every variant and on every studio rebuild)."""
    stat = logo.stat()
    return _aspect(logo, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _aspect(logo: Path, mtime_ns: int, size: int) -> float:
    from .cover import logo_source
    img = logo_source(logo, 128)
    return img.width / img.height


def place(spec: Watermark, logo: Path, size: tuple[int, int], variant: Variant,
          label_box: tuple[int, int, int, int] | None = None) -> Placed:
    """Where the watermark goes on a frame of `size` px: in the frame's margin
    outside the title-safe area, where no scene puts text (a top corner: in
    the top margin, towards the corner; a bottom corner: in the side margin,
    just above the subtitle band). A logo too big for the margin goes inside
    the title-safe corner instead (below the label in its corner), where it
    may cover a scene's text: the studio warns when it does."""
    w, h = size
    short = min(w, h)
    height = max(8, round(spec.size * short))
    width = max(8, round(height * logo_aspect(logo)))
    gap = round(GAP * short)
    mx, my = round(w * variant.safe_margin), round(h * variant.safe_margin)
    left = spec.corner.endswith("left")
    beside = (mx - width) // 2 if left else w - mx + (mx - width) // 2   # centred in the side margin
    if spec.corner.startswith("top"):
        if height <= my:   # in the top margin
            x = beside if width <= mx else (mx // 2 if left else w - mx // 2 - width)
            return Placed(spec, logo, (x, (my - height) // 2, width, height))
        x, y = (mx if left else w - mx - width), my
        if label_box and _overlap((x, y, width, height), label_box):
            y = label_box[1] + label_box[3] + gap
        return Placed(spec, logo, (x, y, width, height))
    frame = variant.frame(w, h)   # a bottom corner: above the subtitle band
    band_top = round((frame.height / 2 - frame.subtitle_top) * h / frame.height)
    x = beside if width <= mx else (mx if left else w - mx - width)
    return Placed(spec, logo, (x, band_top - gap - height, width, height))


def _overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def draw(placed: Placed, target: Path) -> None:
    """The stamp's PNG: the logo at its size, its alpha times the opacity."""
    from PIL import Image

    from .cache import atomic_path
    x, y, width, height = placed.box
    from .cover import logo_source
    im = logo_source(placed.logo, height).resize((width, height), Image.Resampling.LANCZOS)
    im.putalpha(im.getchannel("A").point(lambda a: round(a * placed.spec.opacity)))
    with atomic_path(target) as tmp:
        im.save(tmp, format="PNG")


def covered_texts(box: tuple[int, int, int, int], texts: list[dict]) -> list[str]:
    """The recorded texts of a scene's picture (legible.text_layout: boxes
    x0, y0, x1, y1 in px) the watermark's box (left, top, width, height) overlaps."""
    return [t["text"] for t in texts if _overlap(box, (t["box"][0], t["box"][1], t["box"][2] - t["box"][0],
                                                         t["box"][3] - t["box"][1]))]
