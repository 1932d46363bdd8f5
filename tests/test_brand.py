"""The channel's opening and end card (scenes/brand.py): they render in the
main cut and the vertical one at preview size, every text legible, inside
the title-safe area and above the subtitle band, and the logo is on the
picture (its own colours: an SVG drawn by Manim, or a PNG)."""
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from bilicast import legible, variants
from bilicast.animate import render_scene
from bilicast.contracts import SegmentJob
from bilicast.cover import font_file
from bilicast.scenekit import SceneRegistry
from bilicast.script import PREVIEW, Style
from conftest import ACCENT, CUTS, END_CARD, LOGO, LOGO_BLUE, OPENING, ROOT, brand_job




def last_frame(movie: Path) -> np.ndarray:
    """The movie's last frame, RGB, full size."""
    png = movie.with_suffix(".last.png")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-sseof", "-0.1", "-i", str(movie), "-frames:v", "1", str(png)],
                   check=True)
    return np.asarray(Image.open(png).convert("RGB")).astype(int)


def near(picture: np.ndarray, colour, tolerance=30) -> np.ndarray:
    return (np.abs(picture - np.array(colour)) <= tolerance).all(axis=2)


def render(tmp_path, job):
    movie, _, texts = render_scene(job, tmp_path / job.variant)
    return movie, texts


def test_the_registry_finds_both_scenes_with_their_docs():
    scenes = SceneRegistry(ROOT)
    for name in ("brand.Opening", "brand.EndCard"):
        cls = scenes.get(name)
        assert cls is not None and cls.__doc__ and "logo" in cls.__doc__
        assert cls.beat_count(cls.Params.model_validate({"name": "频道"})) == 0


def test_params_and_the_logo_file(tmp_path):
    cls = SceneRegistry(ROOT).get("brand.EndCard")
    p = cls.Params.model_validate({"name": "频道", "logo": LOGO, "next": "下一期"})
    assert cls.reads_files(p) == [LOGO]   # the logo's content joins the segment's key
    assert cls.reads_files(cls.Params.model_validate({"name": "频道"})) == []
    assert cls.check_files(p, {LOGO: str(ROOT / LOGO)}) == []
    for bad in ({"name": ""}, {"name": "频" * 31}, {"name": "频道", "logo": "/etc/logo.svg"},
                {"name": "频道", "logo": "../logo.svg"}, {"name": "频道", "logo": "assets/logo.gif"},
                {"name": "频道", "prompt": "长" * 17}, {"name": "频道", "next": "长" * 41}):
        with pytest.raises(ValidationError):
            cls.Params.model_validate(bad)
    fake = tmp_path / "logo.png"
    fake.write_text("not a picture")
    p = cls.Params.model_validate({"name": "频道", "logo": "assets/logo.png"})
    assert [f for f, _ in cls.check_files(p, {"assets/logo.png": str(fake)})] == ["logo"]
    opening = SceneRegistry(ROOT).get("brand.Opening")
    with pytest.raises(ValidationError):
        opening.Params.model_validate({"name": "频道", "tagline": "长" * 31})


@pytest.mark.parametrize("variant", CUTS)
@pytest.mark.parametrize("case", [OPENING, END_CARD], ids=["opening", "endcard"])
def test_lays_out_in_both_cuts(tmp_path, case, variant):
    """Every text legible, apart, inside the title-safe area and above the
    subtitle band (the legibility rules), nothing drawn under the band, and
    the logo on the picture."""
    name, params = case
    movie, texts = render(tmp_path, brand_job(name, params, variant))
    width, height = CUTS[variant]
    frame = variants.get(variant).frame(width, height)
    shown = [t["text"] for t in texts]
    assert params["name"] in shown
    if name == "brand.Opening":
        assert params["tagline"] in shown
    else:
        assert {params["prompt"], "点赞", "投币", "收藏", "+ 关注"} <= set(shown)
        assert "".join(shown).replace(" ", "").endswith(f"下期：{params['next']}")   # wrapped: its lines in order
    assert legible.problems(texts, width, height, frame.subtitle_top, str(font_file(False))) == []

    picture = last_frame(movie)
    band_top = round((frame.height / 2 - frame.subtitle_top) / frame.height * height)
    background = np.array(Image.new("RGB", (1, 1), Style().background).getpixel((0, 0)))
    assert (np.abs(picture[band_top + 2:] - background) <= 12).all(), "something is drawn under the subtitle band"
    logo = near(picture, LOGO_BLUE)
    assert logo.mean() > (0.02 if name == "brand.Opening" else 0.006), "the logo's blue is missing"
    rows, cols = np.nonzero(logo)
    assert rows.min() >= height * 0.05 - 1 and rows.max() <= band_top   # in the title-safe area, above the band
    assert cols.min() >= width * 0.05 - 1 and cols.max() <= width * 0.95 + 1


def test_a_png_logo(tmp_path):
    png = tmp_path / "logo.png"
    Image.new("RGB", (64, 64), (40, 220, 60)).save(png)
    params = {"name": "TF实验室", "logo": "assets/channel/logo.png", "prompt": "一键三连"}
    movie, texts = render(tmp_path, brand_job("brand.EndCard", params, files={params["logo"]: str(png)}))
    assert near(last_frame(movie), (40, 220, 60)).mean() > 0.005
    assert legible.problems(texts, *CUTS["main"], variants.get("main").frame(*CUTS["main"]).subtitle_top) == []


def test_without_a_logo_a_mark_in_the_accent(tmp_path):
    movie, _ = render(tmp_path, brand_job("brand.Opening", {"name": "TF实验室"}, "vertical", accent="#e0a030"))
    picture = last_frame(movie)
    assert near(picture, (0xE0, 0xA0, 0x30)).mean() > 0.01   # the mark, in the channel's accent
    assert near(picture, LOGO_BLUE).mean() < 0.001
