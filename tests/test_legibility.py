"""The legibility rules (bilicast/legible.py) on what every built-in scene
really draws: each renders with real Manim, beats included, at 1080p60 and at
the preview size, and the text boxes Manim reports for its final picture must
be large enough, apart, inside the title-safe area, above the subtitle band and
free of tofu. Layouts that would break the rules (long labels, the most bars,
items or steps a scene takes) must shrink or wrap instead. The preview's last
frame is also compared with a stored reference frame (tests/frames/)."""
import dataclasses
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bilicast import legible
from bilicast.animate import render_scene
from bilicast.contracts import SegmentJob
from bilicast.cover import font_file
from bilicast.scenekit import SUBTITLE_TOP, SceneRegistry
from bilicast import variants
from bilicast import fonts
from bilicast.script import PREVIEW, Style
from conftest import BRAND, CASES, CUTS, FRAME_SIZE, compare_reference_frame, job

SIZES = {"1080p60": (1920, 1080, 60, "main"), "preview": (PREVIEW["width"], PREVIEW["height"], PREVIEW["fps"], "main"),
         "vertical-preview": (PREVIEW["height"], PREVIEW["width"], PREVIEW["fps"], "vertical")}
# The rules are measured against the short side, so a layout passes or fails
# alike at any size: every case runs at preview size in both cuts, and the
# densest ones also at the delivery size (slow to render, so not all of them).
AT_FULL_SIZE = ("bars-12", "code-long", "table-8-long", "heatmap-12-long", "architecture-10", "title-long")


@pytest.mark.parametrize("case,size", [(c, s) for c in CASES for s in SIZES if s != "1080p60" or c in AT_FULL_SIZE],
                         ids=lambda v: v)
def test_scene_is_legible(tmp_path, case, size):
    """Every case in the main cut and in the vertical cut (laid out for a
    9:16 frame); the densest also at 1080p60."""
    size = SIZES[size]
    name, params = CASES[case]
    movie, _, layout = render_scene(job(name, params, *size), tmp_path)
    assert movie.stat().st_size > 0
    shown = "".join(t["text"] for t in layout).replace(" ", "")   # a wrapped title is its lines in order
    for value in (params.get("title"), params.get("provenance")):
        assert value is None or value.replace(" ", "") in shown, (value, shown)   # the layout holds what the picture shows
    subtitle_top = variants.get(size[3]).frame(size[0], size[1]).subtitle_top
    assert legible.problems(layout, size[0], size[1], subtitle_top, str(font_file(False))) == []
    if size[2] == PREVIEW["fps"]:
        compare_reference_frame(movie, case if size[3] == "main" else f"{case}-{size[3]}",
                                (FRAME_SIZE[1], FRAME_SIZE[0]) if size[3] == "vertical" else FRAME_SIZE)


def test_rules_catch_what_they_name():
    big = {"role": "text", "size_px": 40}
    layout = [{**big, "text": "A", "box": [100, 100, 300, 150]}, {**big, "text": "B", "box": [250, 120, 400, 170]},
              {**big, "text": "小", "box": [600, 300, 700, 330], "size_px": 20},
              {**big, "text": "边", "box": [10, 300, 90, 340]}, {**big, "text": "底", "box": [800, 950, 900, 990]},
              {**big, "text": "\U000e0001", "box": [800, 500, 900, 540]}]
    found = legible.problems(layout, 1920, 1080, SUBTITLE_TOP, str(font_file(False)))
    assert found == ["'小' is 20 px at 1080p; the least is 26 px", "'边' reaches outside the title-safe area",
                     "'底' is under the subtitle band", "'\\U000e0001' has no glyph for '\\U000e0001' in the font (tofu)",
                     "'A' and 'B' overlap"]


# A channel with its own look (other colours, a serif font, the danmaku-safe
# layout, a logo) still passes the rules: one case of every built-in scene,
# the channel's opening and end card included, at preview size in both cuts,
# checked against the serif font's glyphs, no key text in the danmaku band,
# and the last frame compared with tests/frames/channel-*.png.
LOOK = Style(font="Noto Serif CJK SC", background="#1b1f3b", foreground="#fffbea", accent="#ff7a45",
             highlight="#ffd166", layout="danmaku_safe")
ONE_PER_SCENE = ["title", "heading", "flow", "checklist", "bars", "counter", "before-after", "table", "branch",
                 "code", "terminal", "numberline", "curve", "scatter", "heatmap", "architecture"]
@pytest.mark.parametrize("case,cut", [(c, cut) for c in [*ONE_PER_SCENE, *BRAND] for cut in CUTS],
                         ids=lambda v: v)
def test_a_channels_look_is_legible_in_every_scene(tmp_path, case, cut):
    name, params = BRAND.get(case) or CASES[case]
    width, height = CUTS[cut]
    segment = dataclasses.replace(job(name, params, width, height, PREVIEW["fps"], cut), style=LOOK.model_dump())
    movie, _, layout = render_scene(segment, tmp_path)
    frame = variants.get(cut).frame(width, height)
    serif = fonts.resolve(LOOK.font)
    assert str(serif.file).endswith(".ttc") and "Serif" in str(serif.file)
    assert legible.problems(layout, width, height, frame.subtitle_top, str(serif.file)) == []
    assert legible.danmaku_warning(layout, width, height, frame.danmaku_bottom, "danmaku_safe", name) is None
    compare_reference_frame(movie, f"channel-{case}" + ("-vertical" if cut == "vertical" else ""),
                            (FRAME_SIZE[1], FRAME_SIZE[0]) if cut == "vertical" else FRAME_SIZE)
