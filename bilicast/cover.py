"""Cover art, in the shape the variant's `cover` gives (bilicast/variants):
cover.jpg and the crops of it saved beside it. The main cut's is 1920x1080
with its centred 4:3 crop (cover_4x3.jpg, 1440x1080), its title and badge
inside the crop and out of the bottom strip where Bilibili's cards show play
counts and the duration badge; the vertical cut's is one 1080x1440 (3:4)."""
from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from .cache import atomic_path
from .errors import StageError
from .subtitles import wrap
from .variants import LANDSCAPE_COVER, Cover

MAX_BYTES = 5 * 1024 * 1024
FONT_DIRS = [Path("/usr/share/fonts/opentype/noto"), Path("/usr/share/fonts/truetype/noto")]


def font_file(bold: bool) -> Path:
    name = "NotoSansCJK-Bold.ttc" if bold else "NotoSansCJK-Regular.ttc"
    for folder in FONT_DIRS:
        if (folder / name).exists():
            return folder / name
    raise StageError(f"CJK font {name} not found", "install it with `apt-get install fonts-noto-cjk` (make setup does)")


def load_font(size: int, bold: bool = True):
    return ImageFont.truetype(str(font_file(bold)), size, index=2)   # index 2: the SC (Simplified) face


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return r, g, b


def _theme_background(style, size: tuple[int, int]) -> Image.Image:
    bg, accent, pink = _rgb(style.background), _rgb(style.accent), _rgb(style.highlight)
    w, h = size
    img = Image.new("RGB", size, bg)
    draw = ImageDraw.Draw(img)
    for y in range(h):   # vertical gradient towards the accent colour
        k = y / h * 0.35
        draw.line([(0, y), (w, y)], fill=tuple(int(b + (a - b) * k) for a, b in zip(accent, bg)))
    glow = Image.new("RGB", size, (0, 0, 0))
    g = ImageDraw.Draw(glow)   # a glow in the top right and one in the bottom left
    g.ellipse([w - 570, -250, w + 330, 650], fill=tuple(c // 2 for c in accent))
    g.ellipse([-300, h - 480, 500, h + 320], fill=tuple(c // 3 for c in pink))
    img = Image.blend(img, Image.composite(glow, img, glow.convert("L").point(lambda v: 255 if v else 0)), 0.5)
    img = img.filter(ImageFilter.GaussianBlur(2))
    draw = ImageDraw.Draw(img)
    for x in range(0, w, 80):   # faint grid: a "technical" texture
        draw.line([(x, 0), (x, h)], fill=tuple(min(255, c + 10) for c in bg), width=1)
    return img


def _fit_title(draw, text: str, width: int, height: int):
    for size in range(150, 56, -6):
        font = load_font(size)
        per_line = max(4, int(width / size))
        lines = wrap(text, per_line)
        if len(lines) > 3:
            continue
        boxes = [draw.textbbox((0, 0), ln, font=font) for ln in lines]
        if max(b[2] - b[0] for b in boxes) <= width and len(lines) * size * 1.25 <= height:
            return font, lines, size
    return load_font(56), wrap(text, int(width / 56))[:3], 56


def make_cover(style, title: str, badge: str | None, background: Image.Image | None, target_dir: Path,
               shape: Cover = LANDSCAPE_COVER) -> list[Path]:
    size, safe = shape.size, shape.safe
    if background is not None:
        img = ImageOps.fit(background.convert("RGB"), size).filter(ImageFilter.GaussianBlur(5))
        img = Image.blend(img, Image.new("RGB", size, _rgb(style.background)), 0.55)
    else:
        img = _theme_background(style, size)
    draw = ImageDraw.Draw(img)
    left, top, right, bottom = safe
    if badge:
        bfont = load_font(64)
        bbox = draw.textbbox((0, 0), badge, font=bfont)
        bw, bh = bbox[2] - bbox[0], bbox[3] - bbox[1]
        draw.rounded_rectangle([left, top, left + bw + 60, top + bh + 44], radius=24, fill=_rgb(style.highlight))
        draw.text((left + 30, top + 22 - bbox[1]), badge, font=bfont, fill=(255, 255, 255))
        top += bh + 44 + 50   # type: ignore[assignment]  # PIL's hints: a float bbox (ints with a TrueType font)
    font, lines, size = _fit_title(draw, title, right - left, bottom - top)
    line_h = int(size * 1.25)
    y = top + ((bottom - top) - line_h * len(lines)) // 2
    for ln in lines:
        box = draw.textbbox((0, 0), ln, font=font)
        x = left + ((right - left) - (box[2] - box[0])) // 2 - box[0]
        draw.text((x, y - box[1]), ln, font=font, fill=_rgb(style.foreground),
                  stroke_width=max(2, size // 24), stroke_fill=(0, 0, 0))
        y += line_h
    bar_y = min(y + 20, bottom)
    draw.rectangle([left + (right - left) // 3, bar_y, right - (right - left) // 3, bar_y + 10], fill=_rgb(style.accent))
    outputs = [(target_dir / "cover.jpg", img)] + [(target_dir / name, img.crop(box))
                                                   for name, box in shape.crops.items()]
    for path, picture in outputs:
        _save_jpeg(picture, path)
    return [p for p, _ in outputs]


def _save_jpeg(img: Image.Image, path: Path) -> None:
    for quality in (92, 85, 75, 60):
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality, optimize=True)
        if buf.tell() <= MAX_BYTES:
            break
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())
