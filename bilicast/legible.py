"""Legibility rules for everything a scene draws, checked on the boxes Manim
knows (not guessed from pixels). A scene records its texts on the last frame
(`BilicastScene.layout`); `problems()` applies the rules:

- no text smaller than MIN_TEXT_PX at 1080p (the provenance line: MIN_NOTE_PX),
  measured as the height of a full-width character at the text's font size
  (1080p: 1080 px across the short side, so the same rule holds in the
  vertical cut);
- no two texts overlap;
- everything inside the title-safe area (SAFE_MARGIN of the frame on each side);
- nothing under the subtitle band (below the frame's subtitle_top);
- every character has a glyph in the episode's font or a font Pango falls
  back to (no tofu boxes).

And one warning, not a rule: key text in the danmaku band (the top of the
frame where Bilibili's scrolling comments pass: Variant.danmaku_band) may be
covered while the viewer reads it; `style.layout: danmaku_safe` lays it out
below the band (`danmaku_warning`). Key text is, simply:

- a title: bold text, or the largest text of the picture, at least
  KEY_TEXT_PX at 1080p (titles are 75-120 px; labels and axis texts 42-56);
- a number: text with a digit, at least KEY_TEXT_PX (a bar's value, a
  counter; not a tick label).

The provenance line (role "note") is never key text.
"""
from __future__ import annotations

import functools

from .variants import SAFE_MARGIN, SHORT_SIDE_UNITS

MIN_TEXT_PX, MIN_NOTE_PX = 26, 20
KEY_TEXT_PX = 60   # titles and numbers this large (at 1080p) are key text: kept clear of the danmaku band


@functools.lru_cache(maxsize=None)
def glyph_units_per_font_size(font: str) -> float:
    """Height in Manim units of a full-width character per unit of font size."""
    import manim as mn
    return mn.Text("国", font=font, font_size=100).height / 100


def min_font_size(font: str) -> float:
    """The smallest Manim font size that keeps ordinary text legible."""
    return MIN_TEXT_PX / 1080 * SHORT_SIDE_UNITS / glyph_units_per_font_size(font)


def text_layout(scene) -> list[dict]:
    """Every visible text on the scene's current frame: its string, role
    ("text" or "note"), box in pixels (x0, y0, x1, y1 from the top left),
    size in pixels at this resolution and whether it is bold."""
    import manim as mn
    cam = scene.camera
    width_px, height_px = cam.pixel_width, cam.pixel_height
    frame_w, frame_h = cam.frame_width, cam.frame_height
    per_size = glyph_units_per_font_size(scene.style["font"])
    out = []
    seen = set()
    for top in scene.mobjects:
        for m in top.get_family():
            if id(m) in seen or not isinstance(m, (mn.Text, mn.MarkupText)):
                continue
            seen.add(id(m))
            glyphs = m.family_members_with_points()
            if not glyphs or max(max(g.get_fill_opacity(), g.get_stroke_opacity()) for g in glyphs) < 0.05:
                continue
            (x0, y0, _), (x1, y1, _) = m.get_corner(mn.DL), m.get_corner(mn.UR)
            out.append({
                "text": getattr(m, "original_text", None) or m.text, "role": getattr(m, "bilicast_role", "text"),
                "box": [(x0 + frame_w / 2) / frame_w * width_px, (frame_h / 2 - y1) / frame_h * height_px,
                        (x1 + frame_w / 2) / frame_w * width_px, (frame_h / 2 - y0) / frame_h * height_px],
                "size_px": m.font_size * per_size / frame_h * height_px,
                "bold": str(getattr(m, "weight", "")) == str(mn.BOLD),
            })
    return out


@functools.lru_cache(maxsize=None)
def _charmap(font_path: str) -> frozenset:
    from matplotlib.ft2font import FT2Font
    return frozenset(FT2Font(font_path).get_charmap())


@functools.lru_cache(maxsize=None)
def _fallback_has(char: str) -> bool:
    """Whether any installed font has the character (Pango falls back to it:
    ✔ comes from DejaVu Sans, not from the CJK font)."""
    import subprocess
    out = subprocess.run(["fc-list", f":charset={ord(char):x}", "file"], capture_output=True, text=True)
    return bool(out.stdout.strip())


def key_texts(layout: list[dict], width: int, height: int) -> list[dict]:
    """The layout's key texts: titles and numbers (see the module docstring)."""
    least = KEY_TEXT_PX * min(width, height) / 1080
    texts = [t for t in layout if t.get("role", "text") != "note"]
    largest = max((t["size_px"] for t in texts), default=0.0)
    return [t for t in texts if t["size_px"] >= least - 0.5
            and (t.get("bold") or t["size_px"] >= largest - 0.5 or any(c.isdigit() for c in t["text"]))]


def danmaku_warning(layout: list[dict], width: int, height: int, danmaku_bottom: float, layout_style: str = "standard",
                    scene: str = "") -> str | None:
    """A warning naming the key texts that reach into the danmaku band (above
    danmaku_bottom, in Manim units as subtitle_top is), or None."""
    frame_h = SHORT_SIDE_UNITS * height / min(width, height)
    band_px = (frame_h / 2 - danmaku_bottom) / frame_h * height
    if band_px <= 0.5:
        return None
    covered = [t["text"] for t in key_texts(layout, width, height) if t["box"][1] < band_px - 0.5]
    if not covered:
        return None
    named = ", ".join(repr(c) for c in covered[:3]) + (f" and {len(covered) - 3} more" if len(covered) > 3 else "")
    where = f"{scene}: " if scene else ""
    band = f"the danmaku band (the top {band_px / height:.0%} of the frame, where scrolling comments pass)"
    if layout_style == "danmaku_safe":
        return (f"{where}{named} in {band} under layout danmaku_safe: the scene does not keep its key text "
                f"below the band (BilicastScene.key_top)")
    return (f"{where}{named} in {band}; `layout: danmaku_safe` under style (in the script or channel.yaml) "
            f"lays titles and numbers out below it")


def problems(layout: list[dict], width: int, height: int, subtitle_top: float, font_path: str | None = None,
             danmaku_bottom: float | None = None, layout_style: str = "standard", scene: str = "") -> list[str]:
    """What breaks the rules in a layout (see the module docstring). subtitle_top
    is the band's top edge in Manim units (the frame's short side spans 8).
    With danmaku_bottom (the frame's), the danmaku warning joins them, last."""
    scale = min(width, height) / 1080
    found = []
    safe = (width * SAFE_MARGIN, height * SAFE_MARGIN, width * (1 - SAFE_MARGIN), height * (1 - SAFE_MARGIN))
    frame_h = SHORT_SIDE_UNITS * height / min(width, height)
    band_px = (frame_h / 2 - subtitle_top) / frame_h * height
    glyphs = _charmap(font_path) if font_path else None
    for t in layout:
        x0, y0, x1, y1 = t["box"]
        least = (MIN_NOTE_PX if t["role"] == "note" else MIN_TEXT_PX) * scale
        if t["size_px"] < least - 0.5:
            found.append(f"{t['text']!r} is {t['size_px'] / scale:.0f} px at 1080p; the least is {least / scale:.0f} px")
        if x0 < safe[0] - 0.5 or y0 < safe[1] - 0.5 or x1 > safe[2] + 0.5 or y1 > safe[3] + 0.5:
            found.append(f"{t['text']!r} reaches outside the title-safe area")
        if y1 > band_px + 0.5:
            found.append(f"{t['text']!r} is under the subtitle band")
        if glyphs is not None:
            missing = sorted({c for c in t["text"] if not c.isspace() and ord(c) not in glyphs
                              and not _fallback_has(c)})
            if missing:
                found.append(f"{t['text']!r} has no glyph for {''.join(missing)!r} in the font (tofu)")
    for i, a in enumerate(layout):
        for b in layout[i + 1:]:
            if (min(a["box"][2], b["box"][2]) - max(a["box"][0], b["box"][0]) > 0.5
                    and min(a["box"][3], b["box"][3]) - max(a["box"][1], b["box"][1]) > 0.5):
                found.append(f"{a['text']!r} and {b['text']!r} overlap")
    if danmaku_bottom is not None:
        warning = danmaku_warning(layout, width, height, danmaku_bottom, layout_style, scene)
        found += [warning] if warning else []
    return found
