"""The episode's font (bilicast/fonts.py, docs/fonts.md): resolved from an
installed family or a workspace file, checked for coverage, and used by all
four text renderers: Manim (Pango), libass, Pillow and matplotlib. Noto Serif
CJK SC (fonts-noto-cjk) against the default Noto Sans CJK SC: their glyphs
differ clearly, so each renderer's output shows which one it used."""
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from bilicast import fonts
from bilicast.errors import UserError
from bilicast.script import Style

SERIF, SANS = "Noto Serif CJK SC", "Noto Sans CJK SC"
TEST_FAMILY = "Bilicast Test Serif"   # a workspace font: Noto Serif CJK SC's glyphs under a name nothing installs
GLYPHS = "国字幕测试封面标题第一步模型ABCabc0123 ,.!?，。"

pytestmark = pytest.mark.skipif(
    SERIF not in subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True).stdout,
    reason="fonts-noto-cjk is not installed")


def _subset(src: Path, index: int, out: Path, style: str, weight: int) -> None:
    """A few of a face's glyphs, renamed to TEST_FAMILY."""
    from fontTools import subset
    from fontTools.ttLib import TTFont
    tt = TTFont(str(src), fontNumber=index)
    options = subset.Options()
    options.name_IDs, options.name_languages, options.layout_features = ["*"], ["*"], []
    sub = subset.Subsetter(options)
    sub.populate(text=GLYPHS)
    sub.subset(tt)
    tt["name"].names = [r for r in tt["name"].names if r.nameID not in (1, 2, 3, 4, 6, 16, 17)]
    for name_id, value in ((1, TEST_FAMILY), (2, style), (3, f"BilicastTestSerif-{style}"),
                           (4, f"{TEST_FAMILY} {style}"), (6, f"BilicastTestSerif-{style}")):
        tt["name"].setName(value, name_id, 3, 1, 0x409)
    tt["OS/2"].usWeightClass = weight
    tt.save(str(out))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A workspace with assets/fonts/TestSerif.otf and its bold face beside it."""
    ws = tmp_path_factory.mktemp("fontws")
    folder = ws / "assets" / "fonts"
    folder.mkdir(parents=True)
    serif = fonts.resolve(SERIF)
    assert serif.bold_file is not None
    _subset(serif.file, serif.index, folder / "TestSerif.otf", "Regular", 400)
    _subset(serif.bold_file, serif.bold_index, folder / "TestSerif-Bold.otf", "Bold", 700)
    return ws


# -- resolving --------------------------------------------------------------

def test_installed_family_resolves_to_its_face_in_the_collection():
    from PIL import ImageFont
    font = fonts.resolve(SERIF)
    assert font.family == SERIF and font.file.name == "NotoSerifCJK-Regular.ttc"
    assert font.bold_file is not None and font.bold_file.name == "NotoSerifCJK-Bold.ttc"
    assert not font.from_workspace
    # the face index is the SC face, not the collection's first (JP) one
    assert ImageFont.truetype(str(font.file), 20, index=font.index).getname() == (SERIF, "Regular")
    assert ImageFont.truetype(str(font.bold_file), 20, index=font.bold_index).getname() == (SERIF, "Bold")
    assert fonts.resolve("noto serif cjk sc").family == SERIF   # fontconfig's names are case-blind


def test_workspace_file_resolves_to_its_family_and_bold_face(workspace):
    font = fonts.resolve("assets/fonts/TestSerif.otf", workspace)
    assert font.family == TEST_FAMILY and font.file == workspace / "assets/fonts/TestSerif.otf"
    assert font.bold_file == workspace / "assets/fonts/TestSerif-Bold.otf"
    assert font.folder == workspace / "assets/fonts" and font.from_workspace
    # a face of a collection by its index
    serif = fonts.resolve(SERIF)
    assert fonts.resolve(f"{serif.file}#{serif.index}").family == SERIF


def test_unknown_family_and_missing_file_are_clear_errors(workspace):
    with pytest.raises(UserError, match=r"'Noto Serif CJK' is not installed.*did you mean 'Noto Serif CJK SC'"):
        fonts.resolve("Noto Serif CJK")
    with pytest.raises(UserError, match=r"did you mean 'Noto Serif CJK SC'"):
        fonts.resolve("Noto Seirf CJK SC")
    with pytest.raises(UserError, match=r"'assets/fonts/TestSerf.otf' not found.*did you mean 'TestSerif.otf'"):
        fonts.resolve("assets/fonts/TestSerf.otf", workspace)


# -- coverage ---------------------------------------------------------------

def test_missing_glyphs_of_a_latin_only_font():
    if "DejaVu Sans" not in fonts.installed_families():
        pytest.skip("DejaVu Sans is not installed")
    latin = fonts.resolve("DejaVu Sans")
    assert fonts.missing_glyphs(latin, ["Hello world\n", "模型 export", "再见 模型"]) == \
        {"模": "模型 export", "型": "模型 export", "再": "再见 模型", "见": "再见 模型"}
    assert fonts.missing_glyphs(fonts.resolve(SERIF), ["模型 export\t，。"]) == {}


def _script(font: str, **episode):
    from bilicast.script import Script
    return Script.model_validate({
        "episode": {"id": "f", "title": "字体测试", "style": {"font": font}, **episode},
        "segments": [{"id": "a", "scene": "titles.TitleCard", "params": {"title": "第一步", "items": [{"x": "模型✔"}]},
                      "narration": ["先把模型导出。"]}],
        "channel": {"name": "小频道", "end_card": {"prompt": "一键三连"}}})


def test_coverage_problems_name_the_characters_and_where():
    from bilicast.yamlsource import Located
    located = Located({})
    assert fonts.coverage_problems(_script(SERIF), located, None) == []   # ✔: another installed font has it
    [problem] = fonts.coverage_problems(_script("DejaVu Sans"), located, None)
    assert problem.where == "episode.style.font" and "DejaVu Sans" in problem.message
    assert "'字体测试' in episode.title" in problem.message and "Noto Serif CJK SC" in problem.hint
    # a cover text is drawn by Pillow, which has no fallback: a symbol the font lacks is a problem there
    [problem] = fonts.coverage_problems(_script(SANS, cover={"badge": "✔ 实测"}), located, None)
    assert "'✔' in episode.cover.badge" in problem.message
    [problem] = fonts.coverage_problems(_script("Noto Serif CJK"), located, None)
    assert "not installed" in problem.message and "did you mean 'Noto Serif CJK SC'" in problem.hint


# -- the four renderers -----------------------------------------------------

def _outline(font: str, tmp_path) -> np.ndarray:
    """The outline points of a Manim Text in the font (Pango's glyphs)."""
    import manim as mn
    with mn.tempconfig({"media_dir": str(tmp_path / "media")}):
        return np.round(mn.Text("国字", font=font, font_size=100).get_all_points(), 3)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.allclose(a, b, atol=0.01)


def test_manim_text_draws_the_family_and_a_workspace_file(workspace, tmp_path, monkeypatch):
    from bilicast.scenekit import BilicastScene
    sans, serif = _outline(SANS, tmp_path), _outline(SERIF, tmp_path)
    assert not _same(sans, serif)
    # a workspace font file: the scene's style names its family, registered with Pango (after Pango has drawn)
    monkeypatch.chdir(workspace)
    scene = BilicastScene(params={}, timing={}, style={"font": "assets/fonts/TestSerif.otf", "foreground": "#ffffff"})
    assert scene.style["font"] == TEST_FAMILY
    assert _same(_outline(TEST_FAMILY, tmp_path), serif)
    # an installed family passes through untouched
    assert BilicastScene(params={}, timing={}, style={"font": SERIF}).style["font"] == SERIF


def _burn(ass: str, tmp_path, fontsdir: str = "") -> np.ndarray:
    """The ASS burned over a dark frame by libass, as finishing does."""
    ass_file = tmp_path / "s.ass"
    ass_file.write_text(ass, encoding="utf-8")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=0x101010:s=960x540:d=1", "-vf",
                    f"ass=filename={ass_file}{fontsdir}", "-frames:v", "1", str(tmp_path / "f.png")], check=True)
    return np.asarray(Image.open(tmp_path / "f.png").convert("L"), dtype=float)


def _differ(a: np.ndarray, b: np.ndarray) -> float:
    """The share of the pixels lit in either picture that differ clearly between them."""
    lit = ((a > 128) | (b > 128)).sum()
    return float((np.abs(a - b) > 64).sum() / max(1, lit))


def test_libass_burns_subtitles_in_the_font(workspace, tmp_path):
    from bilicast.finish import _fonts_dir
    from bilicast.subtitles import Cue, to_ass
    cues = [Cue(0.0, 1.0, ("国字幕测试",))]

    def burned(font: str, fontsdir: str = "") -> np.ndarray:
        ass = to_ass(cues, (960, 540), font, workspace=workspace)
        return _burn(ass, tmp_path, fontsdir)
    sans, serif = burned(SANS), burned(SERIF)
    assert (sans > 128).sum() > 500 and (serif > 128).sum() > 500   # drawn at all
    assert _differ(sans, serif) > 0.3   # different glyphs
    # a workspace font: the style names its family, and libass reads the file's folder
    spec = "assets/fonts/TestSerif.otf"
    assert f"Style: Default,{TEST_FAMILY}," in to_ass(cues, (960, 540), spec, workspace=workspace)
    option = _fonts_dir(SimpleNamespace(burn_in=SimpleNamespace(font=spec, workspace=workspace)))
    assert option.startswith(":fontsdir=")
    assert _differ(burned(spec, option), serif) < 0.02
    assert _differ(burned(spec), serif) > 0.3   # without the folder: a fallback face
    assert _fonts_dir(SimpleNamespace(burn_in=SimpleNamespace(font=SERIF, workspace=workspace))) == ""


def test_cover_text_is_drawn_in_the_style_font(workspace, tmp_path):
    from bilicast.cover import make_cover, style_fonts
    assert style_fonts(Style(font=SERIF))(80).getname() == (SERIF, "Bold")
    assert style_fonts(Style(font=SERIF))(80, False).getname() == (SERIF, "Regular")
    assert style_fonts(Style(font="assets/fonts/TestSerif.otf"), workspace)(80).getname() == (TEST_FAMILY, "Bold")

    def cover(style: Style, name: str) -> np.ndarray:
        folder = tmp_path / name
        folder.mkdir()
        make_cover(style, "国字幕测试", None, None, folder, workspace=workspace)
        return np.asarray(Image.open(folder / "cover.jpg").convert("L"), dtype=float)
    sans, serif = cover(Style(), "sans"), cover(Style(font=SERIF), "serif")
    assert _differ(sans, serif) > 0.1
    assert _differ(cover(Style(font="assets/fonts/TestSerif.otf"), "file"), serif) < 0.02


def test_chart_text_uses_the_style_font(workspace):
    from matplotlib import font_manager

    from bilicast.charts import _setup
    for spec, where, family in ((SERIF, None, SERIF), ("assets/fonts/TestSerif.otf", workspace, TEST_FAMILY)):
        plt, fig, _ = _setup(Style(font=spec), (640, 360), 0.5, where)
        try:
            font = fonts.resolve(spec, where)
            title = fig.text(0.5, 0.9, "模型体积对比", fontweight="bold")
            label = fig.text(0.5, 0.5, "第一步")
            assert title.get_fontname() == family == label.get_fontname()
            assert Path(font_manager.findfont(label.get_fontproperties())).resolve() == font.file.resolve()
            assert Path(font_manager.findfont(title.get_fontproperties())).resolve() == font.bold_file.resolve()
        finally:
            plt.close(fig)


# -- the channel's logo on the cover ----------------------------------------

GREEN = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><rect width="40" height="40" fill="#00ff00"/></svg>'


def _green(img: Image.Image) -> np.ndarray:
    px = np.asarray(img.convert("RGB"), dtype=int)
    return (px[..., 1] > 200) & (px[..., 0] < 90) & (px[..., 2] < 90)


@pytest.mark.parametrize("kind", ["svg", "png"])
def test_cover_logo_sits_inside_the_safe_box(kind, tmp_path):
    from bilicast.cover import make_cover
    from bilicast.variants import LANDSCAPE_COVER, get
    logo = tmp_path / f"logo.{kind}"
    if kind == "svg":
        logo.write_text(GREEN, encoding="utf-8")
    else:
        Image.new("RGB", (64, 32), (0, 255, 0)).save(logo)
    for shape in (LANDSCAPE_COVER, get("vertical").cover):
        out = tmp_path / f"{kind}-{shape.size[0]}"
        out.mkdir()
        make_cover(Style(), "三步把模型塞进手机", "实测", None, out, shape, logo=logo, channel_name="小频道")
        with Image.open(out / "cover.jpg") as img:
            green = _green(img)
        ys, xs = np.nonzero(green)
        assert len(xs) > 500   # the logo is there
        left, top, right, bottom = shape.safe
        assert left <= xs.min() and xs.max() < right and top <= ys.min() and ys.max() < bottom
        assert not green[bottom:].any()   # nothing in the bottom strip
        for name, (cl, ct, cr, cb) in shape.crops.items():   # inside the 4:3 crop
            assert cl <= xs.min() and xs.max() < cr
        assert xs.min() > (left + right) / 2   # in the top-right corner, clear of the badge on the left
    none = tmp_path / "none"
    none.mkdir()
    make_cover(Style(), "三步把模型塞进手机", "实测", None, none)
    with Image.open(none / "cover.jpg") as img:
        assert not _green(img).any()
