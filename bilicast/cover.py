"""Cover art, in the shape the variant's `cover` gives (bilicast/variants):
cover.jpg and the crops of it saved beside it. The main cut's is 1920x1080
with its centred 4:3 crop (cover_4x3.jpg, 1440x1080), its title and badge
inside the crop and out of the bottom strip where Bilibili's cards show play
counts and the duration badge; the vertical cut's is one 1080x1440 (3:4)."""
from __future__ import annotations

import functools
import io
import tempfile
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from .cache import atomic_path
from .errors import StageError
from .media import run_ffmpeg
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
    """The fixed Noto Sans CJK SC face (the AI-content label, the storyboard); covers use the style's font."""
    return ImageFont.truetype(str(font_file(bold)), size, index=2)   # index 2: the SC (Simplified) face


def style_fonts(style, workspace: Path | None = None) -> Callable[..., ImageFont.FreeTypeFont]:
    """(size, bold=True) -> a Pillow font of the style's font (bilicast/fonts.py):
    its bold face where the family has one, else its regular one."""
    from .fonts import pillow_font, resolve
    font = resolve(getattr(style, "font", None) or "Noto Sans CJK SC", workspace)

    @functools.lru_cache(maxsize=None)
    def load(size: int, bold: bool = True) -> ImageFont.FreeTypeFont:
        return pillow_font(font, size, bold)
    return load


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


def _fit_title(draw, text: str, width: int, height: int, load=load_font):
    for size in range(150, 56, -6):
        font = load(size)
        per_line = max(4, int(width / size))
        lines = wrap(text, per_line)
        if len(lines) > 3:
            continue
        boxes = [draw.textbbox((0, 0), ln, font=font) for ln in lines]
        if max(b[2] - b[0] for b in boxes) <= width and len(lines) * size * 1.25 <= height:
            return font, lines, size
    return load(56), wrap(text, int(width / 56))[:3], 56


LOGO_HEIGHT = 0.085   # the channel logo's height on a cover, a fraction of its short side
LOGO_MAX_ASPECT = 3.0   # a wider logo (a wordmark) is shrunk to this many times its height


def logo_source(path: Path, height: int) -> Image.Image:
    """The channel's logo as RGBA, to be scaled to `height` pixels: an SVG
    rasterized by ffmpeg's librsvg decoder at twice that (sharp once scaled
    down), a PNG as it is. The cover and the watermark both draw it."""
    if path.suffix.lower() == ".svg":
        with tempfile.TemporaryDirectory(prefix="bilicast-logo-") as tmp:
            out = Path(tmp) / "logo.png"
            run_ffmpeg(["-height", str(height * 2), "-keep_ar", "1", "-i", str(path), "-frames:v", "1", str(out)],
                       f"rasterizing the logo {path.name}")
            with Image.open(out) as drawn:
                return drawn.convert("RGBA")
    try:
        with Image.open(path) as opened:
            return opened.convert("RGBA")
    except OSError as e:
        raise StageError(f"cannot read the logo {path}: {e}", "give channel.yaml's logo as a PNG or SVG") from None


def logo_image(path: Path, height: int) -> Image.Image:
    """The channel's logo as RGBA, `height` pixels high (narrower where it is very wide)."""
    img = logo_source(path, height)
    w = max(1, round(img.width * height / img.height))
    if w > height * LOGO_MAX_ASPECT:
        w, height = round(height * LOGO_MAX_ASPECT), max(1, round(img.height * height * LOGO_MAX_ASPECT / img.width))
    return img.resize((w, height), Image.Resampling.LANCZOS)


def _draw_brand(img: Image.Image, draw, style, load, logo: Path, name: str, safe: tuple[int, int, int, int],
                taken: int) -> int:
    """The channel's logo in the safe box's top-right corner, its name small
    to the logo's left where there is room beside the badge (`taken`: the
    pixels the badge takes from the left edge). Returns the logo's bottom."""
    left, top, right, _ = safe
    height = round(min(img.size) * LOGO_HEIGHT)
    mark = logo_image(logo, height)
    x = right - mark.width
    img.paste(mark, (x, top + (height - mark.height) // 2), mark)
    if name:
        gap = height // 4
        room = x - gap - (left + taken + gap if taken else left)

        def width(text: str, font) -> int:
            box = draw.textbbox((0, 0), text, font=font)
            return box[2] - box[0]
        text, least = name, 22
        for size in range(round(height * 0.42), least - 1, -2):   # smaller until it fits, down to `least` px
            font = load(size, False)
            if width(text, font) <= room:
                break
        else:   # still too long: cut short
            while len(text) > 1 and width(text + "…", font) > room:
                text = text[:-1]
            text += "…"
        if width(text, font) <= room:   # else no room at all beside the badge: the logo alone
            box = draw.textbbox((0, 0), text, font=font)
            draw.text((x - gap - (box[2] - box[0]) - box[0], top + (height - (box[3] - box[1])) // 2 - box[1]), text,
                      font=font, fill=_rgb(style.foreground), stroke_width=max(1, size // 16), stroke_fill=(0, 0, 0))
    return top + height


def make_cover(style, title: str, badge: str | None, background: Image.Image | None, target_dir: Path,
               shape: Cover = LANDSCAPE_COVER, *, workspace: Path | None = None, logo: Path | None = None,
               channel_name: str = "") -> list[Path]:
    """The cover files (cover.jpg and its crops) in the style's colours and
    font (a workspace font file relative to `workspace`); with `logo` (a PNG
    or SVG file) the channel's logo goes in the safe box's top-right corner,
    `channel_name` small beside it."""
    size, safe = shape.size, shape.safe
    load = style_fonts(style, workspace)
    if background is not None:
        img = ImageOps.fit(background.convert("RGB"), size).filter(ImageFilter.GaussianBlur(5))
        img = Image.blend(img, Image.new("RGB", size, _rgb(style.background)), 0.55)
    else:
        img = _theme_background(style, size)
    draw = ImageDraw.Draw(img)
    left, top, right, bottom = safe
    below = top   # where the title's room starts: under the badge and the logo
    taken = 0     # the badge's width, from the left edge
    if badge:
        bfont = load(64)
        bbox = draw.textbbox((0, 0), badge, font=bfont)
        bw, bh = bbox[2] - bbox[0], bbox[3] - bbox[1]
        draw.rounded_rectangle([left, top, left + bw + 60, top + bh + 44], radius=24, fill=_rgb(style.highlight))
        draw.text((left + 30, top + 22 - bbox[1]), badge, font=bfont, fill=(255, 255, 255))
        below = int(top + bh + 44 + 50)   # PIL's hints: a float bbox (ints with a TrueType font)
        taken = int(bw + 60)
    if logo is not None:
        below = max(below, _draw_brand(img, draw, style, load, logo, channel_name, safe, taken) + 40)
    top = below
    font, lines, size = _fit_title(draw, title, right - left, bottom - top, load)
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
