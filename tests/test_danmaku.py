"""The danmaku band (docs/variants.md): each built-in cut has one, the
frame knows its lower edge, `style.layout: danmaku_safe` lays the built-in
scenes' titles and key numbers out below it in both cuts (the standard
layout stays exactly as it was: the reference frames of
tests/test_legibility.py), and the legibility check warns about key text
in the band, naming the scene and the setting that fixes it."""
import dataclasses

import pytest

from bilicast import legible, variants
from bilicast.animate import render_scene
from bilicast.cover import font_file
from bilicast.script import PREVIEW, Style
from conftest import CASES, END_CARD, OPENING, brand_job, compare_reference_frame, job

CUTS = {"main": (PREVIEW["width"], PREVIEW["height"]), "vertical": (PREVIEW["height"], PREVIEW["width"])}


def band_px(variant: str, width: int, height: int) -> float:
    frame = variants.get(variant).frame(width, height)
    return (frame.height / 2 - frame.danmaku_bottom) / frame.height * height


def test_each_cut_has_a_band_and_the_frame_knows_its_edge():
    main, vertical = variants.get("main"), variants.get("vertical")
    assert main.danmaku_band == 0.25 and 0.1 < vertical.danmaku_band < 0.25
    # the same 270 px at 1080 px across in both: what danmaku cover is a number of tracks
    assert band_px("main", 1920, 1080) == pytest.approx(270)
    assert band_px("vertical", 1080, 1920) == pytest.approx(270, abs=3)
    frame = main.frame(1920, 1080)
    assert (frame.top, frame.subtitle_top, frame.danmaku_bottom) == (pytest.approx(3.6), pytest.approx(-2.6), 2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        frame.danmaku_band = 0.5   # type: ignore[misc]
    plain = variants.Variant(aspect=(1, 1), subtitle_margin=0.06, subtitle_band=1.0).frame(1080, 1080)
    assert plain.danmaku_bottom == plain.height / 2   # no band: the frame's top edge


def test_key_text_and_the_warning():
    """Key text: bold or the largest text, or text with a digit, at least
    KEY_TEXT_PX at 1080p; the provenance line never."""
    title = {"text": "体积和精度", "role": "text", "size_px": 85, "bold": True, "box": [100, 60, 600, 140]}
    tick = {"text": "0.25", "role": "text", "size_px": 43, "bold": False, "box": [120, 200, 180, 240]}
    note = {"text": "实测：2026", "role": "note", "size_px": 30, "bold": False, "box": [1500, 60, 1800, 90]}
    number = {"text": "12.3 秒", "role": "text", "size_px": 180, "bold": True, "box": [700, 400, 1200, 600]}
    label = {"text": "本机训练耗时", "role": "text", "size_px": 72, "bold": False, "box": [700, 260, 1100, 330]}
    layout = [title, tick, note, number, label]
    assert [t["text"] for t in legible.key_texts(layout, 1920, 1080)] == ["体积和精度", "12.3 秒"]
    bottom = variants.get("main").frame(1920, 1080).danmaku_bottom
    warning = legible.danmaku_warning(layout, 1920, 1080, bottom, scene="titles.Heading")
    assert warning.startswith("titles.Heading: '体积和精度' in the danmaku band (the top 25% of the frame")
    assert "layout: danmaku_safe" in warning and "channel.yaml" in warning
    assert legible.danmaku_warning([tick, note, number, label], 1920, 1080, bottom) is None
    still = legible.danmaku_warning(layout, 1920, 1080, bottom, "danmaku_safe")
    assert "under layout danmaku_safe" in still and "key_top" in still
    # a warning joins the rules' list only when asked for, last (the studio lists them per segment)
    assert legible.problems(layout, 1920, 1080, -2.6) == []
    assert legible.problems(layout, 1920, 1080, -2.6, danmaku_bottom=bottom) == [warning.split(": ", 1)[1]]
    # in the vertical cut, measured against its own band
    tall = [{**title, "box": [100, 300, 600, 380]}]
    vertical_bottom = variants.get("vertical").frame(1080, 1920).danmaku_bottom
    assert legible.danmaku_warning(tall, 1080, 1920, vertical_bottom) is None
    assert legible.danmaku_warning([{**title, "box": [100, 200, 600, 280]}], 1080, 1920, vertical_bottom)


# scenes whose titles (or key numbers) sit in the band in the standard layout
MOVED = ("heading", "checklist", "before-after", "code-aside")


def render_case(tmp_path, case, variant, layout):
    name, params = CASES[case]
    width, height = CUTS[variant]
    segment = job(name, params, width, height, PREVIEW["fps"], variant)
    segment = dataclasses.replace(segment, style={**Style().model_dump(), "layout": layout})
    movie, _, texts = render_scene(segment, tmp_path / f"{case}-{variant}-{layout}")
    return movie, texts


@pytest.mark.parametrize("variant", CUTS)
@pytest.mark.parametrize("case", MOVED)
def test_danmaku_safe_moves_key_text_below_the_band(tmp_path, case, variant):
    width, height = CUTS[variant]
    frame = variants.get(variant).frame(width, height)
    band, name = band_px(variant, width, height), CASES[case][0]

    movie, standard = render_case(tmp_path, case, variant, "standard")
    compare_reference_frame(movie, case if variant == "main" else f"{case}-{variant}",
                            (54, 96) if variant == "vertical" else (96, 54))   # standard: the picture as it was
    warning = legible.danmaku_warning(standard, width, height, frame.danmaku_bottom, scene=name)
    assert warning and warning.startswith(name) and "danmaku_safe" in warning

    _, safe = render_case(tmp_path, case, variant, "danmaku_safe")
    keys = legible.key_texts(safe, width, height)
    assert keys and all(t["box"][1] >= band - 0.5 for t in keys), [(t["text"], t["box"]) for t in keys]
    title = CASES[case][1].get("title")
    if title:
        assert title in {t["text"] for t in keys}
    assert legible.danmaku_warning(safe, width, height, frame.danmaku_bottom, "danmaku_safe") is None
    assert legible.problems(safe, width, height, frame.subtitle_top, str(font_file(False))) == []


@pytest.mark.parametrize("variant", CUTS)
@pytest.mark.parametrize("case", [OPENING, END_CARD], ids=["opening", "endcard"])
def test_the_channel_scenes_under_danmaku_safe(tmp_path, case, variant):
    width, height = CUTS[variant]
    frame = variants.get(variant).frame(width, height)
    _, _, texts = render_scene(brand_job(*case, variant, "danmaku_safe"), tmp_path / variant)
    assert all(t["box"][1] >= band_px(variant, width, height) - 0.5 for t in texts)   # all of it, not only key text
    assert legible.problems(texts, width, height, frame.subtitle_top, str(font_file(False)),
                            danmaku_bottom=frame.danmaku_bottom, layout_style="danmaku_safe") == []


@pytest.mark.slow
@pytest.mark.parametrize("variant", CUTS)
@pytest.mark.parametrize("case", CASES)
def test_every_case_keeps_the_rules_under_danmaku_safe(tmp_path, case, variant):
    """Less room under the title: every scene case still legible, its key text below the band."""
    width, height = CUTS[variant]
    frame = variants.get(variant).frame(width, height)
    _, texts = render_case(tmp_path, case, variant, "danmaku_safe")
    assert legible.problems(texts, width, height, frame.subtitle_top, str(font_file(False)),
                            danmaku_bottom=frame.danmaku_bottom, layout_style="danmaku_safe") == []
