"""A channel with its own look (other colours, a serif font, the
danmaku-safe layout, a logo) still passes the legibility rules: one case of
every built-in scene, the channel's opening and end card included, rendered
with real Manim at preview size in both cuts, its recorded texts checked by
bilicast/legible.py (against the serif font's glyphs), no key text in the
danmaku band, and its last frame compared with a stored reference frame
(tests/frames/channel-*.png)."""
from dataclasses import replace

import pytest

from bilicast import fonts, legible, variants
from bilicast.animate import render_scene
from bilicast.script import PREVIEW, Style

from conftest import ROOT
from test_legibility import CASES, FRAME_SIZE, compare_reference_frame, job

LOOK = Style(font="Noto Serif CJK SC", background="#1b1f3b", foreground="#fffbea", accent="#ff7a45",
             highlight="#ffd166", layout="danmaku_safe")
LOGO = "assets/channel/logo.svg"
BRAND = {
    "opening": ("brand.Opening", {"name": "TF实战小课", "logo": LOGO, "tagline": "每期一个真的会跑的 TensorFlow 实战"}),
    "end-card": ("brand.EndCard", {"name": "TF实战小课", "logo": LOGO, "prompt": "一键三连 · 关注不迷路",
                                   "next": "训练和上线的预处理不一致"}),
}
ONE_PER_SCENE = ["title", "heading", "flow", "checklist", "bars", "counter", "before-after", "table", "branch",
                 "code", "terminal", "numberline", "curve", "scatter", "heatmap", "architecture"]
SIZES = {"main": (PREVIEW["width"], PREVIEW["height"]), "vertical": (PREVIEW["height"], PREVIEW["width"])}


@pytest.mark.parametrize("case,cut", [(c, cut) for c in [*ONE_PER_SCENE, *BRAND] for cut in SIZES],
                         ids=lambda v: v)
def test_a_channels_look_is_legible_in_every_scene(tmp_path, case, cut):
    name, params = BRAND.get(case) or CASES[case]
    width, height = SIZES[cut]
    segment = replace(job(name, params, width, height, PREVIEW["fps"], cut), style=LOOK.model_dump())
    movie, _, layout = render_scene(segment, tmp_path)
    frame = variants.get(cut).frame(width, height)
    serif = fonts.resolve(LOOK.font)
    assert str(serif.file).endswith(".ttc") and "Serif" in str(serif.file)
    assert legible.problems(layout, width, height, frame.subtitle_top, str(serif.file)) == []
    assert legible.danmaku_warning(layout, width, height, frame.danmaku_bottom, "danmaku_safe", name) is None
    compare_reference_frame(movie, f"channel-{case}" + ("-vertical" if cut == "vertical" else ""),
                            (FRAME_SIZE[1], FRAME_SIZE[0]) if cut == "vertical" else FRAME_SIZE)
