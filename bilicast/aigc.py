"""The AI-content labels China's rules ask of synthesized content
(《人工智能生成合成内容标识办法》 and GB 45438-2025, in force since
2025-09-01; docs/aigc.md): an explicit label, text on the picture over the
video's first seconds, drawn at finishing over whatever segment opens the
video (never baked into a cached animation); and an implicit one, a JSON
object under the MP4's `AIGC` metadata key, written by the final join.

An episode carries both when any narration line is voiced by TTS
(`episode.aigc: auto`), or always, or never (a warning names the lines)."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import yaml
from pydantic import Field, ValidationError

from . import templates
from .errors import UserError
from .script import Color, Script, labelled, synthesized_lines
from .strict import Strict

if TYPE_CHECKING:
    from PIL import Image

    from .variants import Variant

LABEL_UNTIL = 3.0   # seconds the label shows from the start (the rule asks for at least 2)
MIN_HEIGHT = 0.05   # the text's least height, a fraction of the frame's short side (GB 45438-2025)
TEMPLATE = "aigc_label.yaml.j2"
METADATA_KEY = "AIGC"
METADATA_FIELDS = ("Label", "ContentProducer", "ProduceID", "ReservedCode1", "ContentPropagator", "PropagateID",
                   "ReservedCode2")


class LabelStyle(Strict):
    """What templates/aigc_label.yaml.j2 says."""
    text: str = Field(min_length=2, max_length=30)
    height: float = Field(MIN_HEIGHT, ge=MIN_HEIGHT, le=0.15, description="text height / the frame's short side")
    corner: Literal["top-left", "top-right"] = "top-left"
    color: Color = "#ffffff"
    background: Color = "#000000"
    opacity: float = Field(0.72, ge=0.5, le=1.0, description="the box's; the text is opaque")


@dataclass(frozen=True)
class Label:
    """The label as drawn on one size of frame, px. `box`: the whole label
    (left, top, width, height); `text_px`: a full-width character's height."""
    style: LabelStyle
    box: tuple[int, int, int, int]
    font_size: int
    text_px: int
    until: float = LABEL_UNTIL

    def record(self) -> dict:
        """What a bundle's timeline.json keeps of it, for `bilicast check`."""
        return {"text": self.style.text, "box": list(self.box), "font_size": self.font_size,
                "text_px": self.text_px, "until": self.until, "style": self.style.model_dump()}

    @classmethod
    def from_record(cls, record: dict) -> Label:
        return cls(LabelStyle.model_validate(record["style"]), tuple(record["box"]),  # type: ignore[arg-type]
                   record["font_size"], record["text_px"], record["until"])


def label_style(script: Script, workspace: Path | None) -> LabelStyle | None:
    """The label's style from the template, or None when the episode carries no labels."""
    if not labelled(script):
        return None
    text = templates.render(TEMPLATE, workspace, synthesized=len(synthesized_lines(script)),
                            lines=sum(len(s.narration) for s in script.segments),
                            voice=script.episode.voice.backend)
    where = templates.template_file(TEMPLATE, workspace)
    try:
        return LabelStyle.model_validate(yaml.safe_load(text))
    except yaml.YAMLError as e:
        raise UserError(f"{where}: the filled-in template is not YAML ({e})") from None
    except ValidationError as e:
        err = e.errors()[0]
        raise UserError(f"{where}: {'.'.join(map(str, err['loc'])) or 'the label'}: {err['msg']}") from None


@functools.lru_cache(maxsize=8)
def _glyph_ratio(bold: bool = True) -> float:
    """A full-width character's ink height per pixel of font size."""
    from .cover import load_font
    x0, y0, x1, y1 = load_font(200, bold).getbbox("国")
    return (y1 - y0) / 200


def place(style: LabelStyle, size: tuple[int, int], variant: Variant) -> Label:
    """Where the label goes on a frame of `size`: in the corner of the
    title-safe area the style names, its text at least style.height of the
    short side tall."""
    import math

    from .cover import load_font
    w, h = size
    text_px = math.ceil(style.height * min(w, h))
    font_size = math.ceil(text_px / _glyph_ratio())
    x0, _, x1, _ = load_font(font_size).getbbox(style.text)
    pad_x, pad_y = round(text_px * 0.45), round(text_px * 0.35)
    box_w, box_h = (x1 - x0) + 2 * pad_x, text_px + 2 * pad_y
    left = round(w * variant.safe_margin) if style.corner == "top-left" else w - round(w * variant.safe_margin) - box_w
    return Label(style, (left, round(h * variant.safe_margin), box_w, box_h), font_size, text_px)


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _text_mask(label: Label) -> Image.Image:
    """The label's text as an L mask the size of its box (255: glyph)."""
    from PIL import Image, ImageDraw

    from .cover import load_font
    _, _, w, h = label.box
    font = load_font(label.font_size)
    mask = Image.new("L", (w, h), 0)
    x0, _, x1, _ = font.getbbox(label.style.text)
    _, gy0, _, gy1 = font.getbbox("国")
    # the text's ink centred across the box; a full-width character's ink centred down it
    ImageDraw.Draw(mask).text(((w - (x1 - x0)) / 2 - x0, (h - (gy1 - gy0)) / 2 - gy0), label.style.text,
                              font=font, fill=255)
    return mask


def draw(label: Label, target: Path) -> None:
    """The label as an RGBA PNG the size of its box: a rounded box at the
    style's opacity, the text on it, opaque."""
    from PIL import Image, ImageDraw

    from .cache import atomic_path
    _, _, w, h = label.box
    style = label.style
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    ImageDraw.Draw(img).rounded_rectangle([0, 0, w - 1, h - 1], radius=max(2, label.text_px // 4),
                                          fill=(*_rgb(style.background), round(255 * style.opacity)))
    img.paste(Image.new("RGBA", (w, h), (*_rgb(style.color), 255)), (0, 0), _text_mask(label))
    with atomic_path(target) as tmp:
        img.save(tmp, "PNG")


def shown(frame: Image.Image, label: Label) -> tuple[bool, str]:
    """Whether a frame (RGB) shows the label where it was placed: the text's
    pixels in its colour and the box's around them in the box's colour at
    its opacity, over whatever is under it (the edges of glyphs, blurred by
    the encoder, are left out)."""
    import numpy as np
    from PIL import ImageFilter
    x, y, w, h = label.box
    crop = np.asarray(frame.convert("RGB").crop((x, y, x + w, y + h)), dtype=float)
    mask = _text_mask(label)
    glyph = np.asarray(mask.filter(ImageFilter.MinFilter(3))) > 200          # inside strokes
    near = np.asarray(mask.filter(ImageFilter.MaxFilter(5))) > 0             # strokes and their edges
    inner = np.zeros((h, w), bool)
    inner[h // 8:h - h // 8, w // 40 + 2:w - w // 40 - 2] = True   # off the rounded corners
    box = inner & ~near
    style = label.style
    text_off = np.abs(crop[glyph] - _rgb(style.color)).max(axis=1) <= 70
    # a box pixel is background * opacity + (anything) * (1 - opacity)
    lo = np.array(_rgb(style.background)) * style.opacity
    hi = lo + 255 * (1 - style.opacity)
    box_ok = ((crop[box] >= lo - 25) & (crop[box] <= hi + 25)).all(axis=1)
    text_share, box_share = text_off.mean() if glyph.any() else 0.0, box_ok.mean() if box.any() else 0.0
    ok = text_share >= 0.9 and box_share >= 0.95
    return ok, f"text {text_share:.0%} of {int(glyph.sum())} px, box {box_share:.0%}"


def metadata(script: Script, produce_id: str) -> dict[str, str]:
    """The implicit label: the MP4's `AIGC` metadata (GB 45438-2025's
    fields; the propagator's are the platform's to fill)."""
    from importlib.metadata import version
    producer = script.episode.producer or f"bilicast {version('bilicast')}"
    value = {"Label": "1", "ContentProducer": producer, "ProduceID": produce_id, "ReservedCode1": "",
             "ContentPropagator": "", "PropagateID": "", "ReservedCode2": ""}
    return {METADATA_KEY: json.dumps(value, ensure_ascii=False, separators=(",", ":"))}


def metadata_problem(tags: dict) -> str | None:
    """What is wrong with an MP4's AIGC metadata (its format tags), or None."""
    raw = next((v for k, v in tags.items() if k.upper() == METADATA_KEY), None)
    if raw is None:
        return f"no {METADATA_KEY} metadata"
    try:
        value = json.loads(raw)
    except ValueError:
        return f"{METADATA_KEY} is not JSON: {raw[:60]}"
    if not isinstance(value, dict):
        return f"{METADATA_KEY} is not a JSON object"
    missing = [k for k in METADATA_FIELDS if k not in value]
    if missing:
        return f"{METADATA_KEY} lacks {', '.join(missing)}"
    if value["Label"] != "1":
        return f"{METADATA_KEY}.Label is {value['Label']!r}, not \"1\""
    return None


def description_line(script: Script) -> str:
    """The line the description gets: which parts are synthesized."""
    if synthesized_lines(script):
        return f"本视频的配音由AI语音合成（{script.episode.voice.backend}）生成。"
    return "本视频含AI生成内容。"
