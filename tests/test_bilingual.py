"""Subtitles Bilibili accepts (docs/subtitles.md): the language recorded
with the files, `check` refusing cues past the video's end or overlapping,
the CC-only path (burn_in: false), and bilingual subtitles: English files
from the lines' `en:`, and Chinese over English burned into one cue, legible
and inside the subtitle band in both cuts and at both sizes."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pysubs2
import pytest
from PIL import Image

from bilicast import cli, variants
from bilicast.check import check_bundle
from bilicast.subtitles import (EN_CHARS, EN_SCALE, Cue, bilingual_cues, build_cues, en_chars, english_cues,
                                segment_ass, to_ass, width, wrap_words)
from bilicast.timeline import LineTiming, SegmentTiming
from conftest import ROOT

FONT = "Noto Sans CJK SC"
ZH = "量化之后模型从80MB降到20MB，精度只损失了不到2%，推理速度提升了3.5倍。"
EN = "After quantization the model shrinks from 80 MB to 20 MB, loses less than 2% accuracy, and runs 3.5 times faster."


def test_english_wraps_between_words_within_the_line_length():
    lines = wrap_words(EN, 42)
    assert " ".join(lines) == EN   # every word whole, in order
    assert all(len(ln) <= 42 for ln in lines), lines
    assert len(lines) == 3 and min(map(len, lines)) > 25, lines   # even lines: no one-word last line
    assert wrap_words("supercalifragilisticexpialidocious is long", 10) == ["supercalifragilisticexpialidocious",
                                                                         "is long"]


def test_english_line_length_follows_the_width():
    assert en_chars(1920, 1080) == en_chars(854, 480) == EN_CHARS == 42
    assert en_chars(1080, 1920) == en_chars(480, 854) < 42   # the vertical cut is narrower


def test_a_bilingual_cue_is_one_chinese_line_over_one_english_line():
    cues = bilingual_cues(1.0, 10.0, ZH, EN, 20, 42)
    assert all(len(c.lines) == 1 and len(c.en) == 1 for c in cues), cues
    assert len(cues) == len(wrap_words(EN, 42))   # the Chinese is cut into as many pieces as the English has lines
    assert "".join(c.lines[0] for c in cues).replace("，", "") == ZH.replace("，", "").rstrip("。")
    assert " ".join(c.en[0] for c in cues) == EN
    assert cues[0].start == 1.0 and cues[-1].end == 10.0
    assert all(a.end == b.start for a, b in zip(cues, cues[1:]))   # contiguous, in order


def test_short_english_stays_up_across_the_chinese_cues():
    long_zh = "先把模型导出成SavedModel格式，再用转换器把它转换成TFLite格式，最后放进手机App里运行。"
    cues = bilingual_cues(0.0, 9.0, long_zh, "Export, convert, ship.", 20, 42)
    assert len(cues) > 1 and {c.en for c in cues} == {("Export, convert, ship.",)}
    # the other way round: a Chinese line too short to split stays up over the English lines
    cues = bilingual_cues(0.0, 6.0, "好。", EN, 20, 42)
    assert [c.en[0] for c in cues] == wrap_words(EN, 42) and {c.lines for c in cues} == {("好",)}


def test_bilingual_ass_has_the_english_style_only_when_used():
    seg = SegmentTiming("a", 0.0, 12.0, 720, (LineTiming(ZH, 0.8, 9.0), LineTiming("没有译文的一句。", 9.3, 11.0)))
    ass = pysubs2.SSAFile.from_string(segment_ass(seg, 20, FONT, ROOT, (1920, 1080), 0.05, (EN, "")))
    default, english = ass.styles["Default"], ass.styles["English"]
    assert english.fontsize == round(1080 * 0.058 * EN_SCALE) and default.fontsize == round(1080 * 0.058)
    assert english.marginv == default.marginv and english.alignment == default.alignment
    *bilingual, plain = ass.events
    assert all(r"\N{\rEnglish}" in e.text for e in bilingual) and r"\rEnglish" not in plain.text
    assert plain.text == "没有译文的一句"   # a line without `en:` is Chinese only
    # Chinese-only subtitles are made exactly as before: the ASS shapes every burned chunk's cache key
    zh_only = segment_ass(seg, 20, FONT, ROOT, (1920, 1080), 0.05)
    assert "English" not in zh_only and "Style: Default" in zh_only


def test_english_cues_cover_only_lines_with_english():
    timeline = [SegmentTiming("a", 2.0, 12.0, 720, (LineTiming("第一句。", 0.8, 3.0), LineTiming(ZH, 3.3, 11.0)))]
    cues = english_cues(timeline, [("", EN)], 33)
    assert cues[0].start == 5.3 and cues[-1].end == 13.0
    assert all(len(c.lines) <= 2 and all(len(ln) <= 33 for ln in c.lines) for c in cues)
    assert " ".join(ln for c in cues for ln in c.lines) == EN


def burn(ass: str, size, tmp_path) -> np.ndarray:
    """The ASS burned (libass, as the render does) over a dark frame: its brightness."""
    (tmp_path / "s.ass").write_text(ass, encoding="utf-8")
    w, h = size
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"color=0x101010:s={w}x{h}:d=1", "-vf",
                    f"ass=filename={tmp_path / 's.ass'}", "-frames:v", "1", str(tmp_path / "f.png")], check=True)
    return np.asarray(Image.open(tmp_path / "f.png").convert("L"))


def band(variant: variants.Variant, w: int, h: int) -> tuple[float, float]:
    """The subtitle band's top and bottom rows, in pixels from the top."""
    bottom = h - h * variant.subtitle_margin
    return bottom - variant.subtitle_band * min(w, h) / variants.SHORT_SIDE_UNITS, bottom


@pytest.mark.parametrize("name,preview", [("main", False), ("main", True), ("vertical", False), ("vertical", True)])
def test_burned_bilingual_cue_fits_the_band_and_is_legible(name, preview, tmp_path):
    """The widest cue each cut makes (a full Chinese line, a full English line
    of wide capitals) stays inside the band and the title-safe width, and a
    full-width character of the English style is at least MIN_TEXT_PX tall at 1080p."""
    from bilicast.legible import MIN_TEXT_PX
    variant = variants.get(name)
    w, h = variant.size((854, 480) if preview else (1920, 1080))
    zh_chars = variant.subtitle_chars(w, h, 20)
    wide = " ".join(["WMQ" + "W" * 6] * 10)[:en_chars(w, h)].strip()
    cue = Cue(0.0, 5.0, ("模" * zh_chars,), (wide,))
    top, bottom = band(variant, w, h)
    lit = burn(to_ass([cue], (w, h), FONT, margin=variant.subtitle_margin), (w, h), tmp_path) > 200
    rows, cols = np.where(lit.any(1))[0], np.where(lit.any(0))[0]
    assert rows.min() >= top and rows.max() < bottom, (rows.min(), rows.max(), top, bottom)
    assert cols.min() >= 0.05 * w and cols.max() < 0.95 * w, (cols.min(), cols.max(), w)
    # legibility: the English style's full-width character, measured like legible.py's rule
    glyph = burn(to_ass([Cue(0.0, 5.0, ("国",), ("国",))], (w, h), FONT, margin=variant.subtitle_margin),
                 (w, h), tmp_path) > 128
    runs = np.split(np.where(glyph.any(1))[0], np.where(np.diff(np.where(glyph.any(1))[0]) > 1)[0] + 1)
    assert len(runs) == 2, runs   # the Chinese line, then the English
    english = runs[1][-1] - runs[1][0] + 1
    assert english >= MIN_TEXT_PX * min(w, h) / 1080, english


SCRIPT = """\
episode:
  id: bi
  title: 双语字幕
  subtitles: {bilingual: true}
  variants: [main, vertical]
segments:
  - id: intro
    scene: titles.TitleCard
    params: {title: 双语字幕}
    narration:
      - text: 先把模型导出成SavedModel，再转换成TFLite格式。
        en: First export the model as a SavedModel, then convert it to the TFLite format.
      - text: 量化以后，模型小了四倍。
        en: After quantization the model is four times smaller.
"""


def run_cli(ws, *args):
    return subprocess.run([sys.executable, "-m", "bilicast.cli", *args], capture_output=True, text=True, cwd=ws)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """A small bilingual episode rendered at --preview in both cuts."""
    ws = tmp_path_factory.mktemp("bilingual")
    (ws / "scenes").symlink_to(ROOT / "scenes")
    (ws / "ep.yaml").write_text(SCRIPT, encoding="utf-8")
    proc = run_cli(ws, "render", "ep.yaml", "--preview")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return ws


def frame(video, t: float) -> np.ndarray:
    out = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{t:.3f}", "-i", str(video), "-frames:v", "1", "-f",
                          "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    probe = json.loads(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                                       "stream=width,height", "-of", "json", str(video)],
                                      capture_output=True, text=True, check=True).stdout)["streams"][0]
    return np.frombuffer(out, np.uint8).reshape(probe["height"], probe["width"])


def text_runs(lit_rows: np.ndarray) -> list[tuple[int, int]]:
    """Runs of rows holding subtitle text (white), top to bottom."""
    rows = np.where(lit_rows)[0]
    return [(int(r[0]), int(r[-1])) for r in np.split(rows, np.where(np.diff(rows) > 1)[0] + 1) if len(r)]


@pytest.mark.parametrize("name", ["main", "vertical"])
def test_bilingual_render_burns_chinese_over_english_in_the_band(rendered, name):
    bundle = rendered / "out" / "bi" / name
    ass = pysubs2.load(str(bundle / "subtitles.ass"))   # the bundle's ASS is the burned one, on the episode's clock
    assert "English" in ass.styles and all(r"\rEnglish" in e.text for e in ass.events)
    first = ass.events[0]
    picture = frame(bundle / "video.mp4", (first.start + first.end) / 2000)
    h, w = picture.shape
    top, bottom = band(variants.get(name), w, h)
    lit = picture > 200
    below = lit[int(np.ceil(bottom)):]
    assert not below.any(), "text below the subtitle band"
    # two lines of text, the Chinese over the English, both inside the band (the scene keeps above it)
    runs = [r for r in text_runs(lit.any(1)) if r[1] >= top]
    assert len(runs) == 2 and top <= runs[0][0] and runs[1][1] < bottom, (runs, top, bottom)
    assert runs[1][1] - runs[1][0] < runs[0][1] - runs[0][0], runs   # the lower line is the smaller English
    zh_line, en_line = first.plaintext.splitlines()
    assert en_line.startswith("First export the model") and not zh_line.isascii()


def test_bilingual_bundle_has_english_files_and_passes_check(rendered, capsys):
    main, vertical = (rendered / "out" / "bi" / v for v in ("main", "vertical"))
    for bundle in (main, vertical):
        srt = pysubs2.load(str(bundle / "subtitles.en.srt"))
        assert " ".join(e.plaintext.replace("\n", " ") for e in srt).startswith("First export the model as")
        limit = en_chars(*{"main": (854, 480), "vertical": (480, 854)}[bundle.name])
        assert all(len(ln) <= limit for e in srt for ln in e.plaintext.splitlines())
        bcc = json.loads((bundle / "subtitles.en.bcc.json").read_text("utf-8"))
        assert set(bcc) == {"font_size", "font_color", "background_alpha", "background_color", "Stroke", "body"}
        zh = pysubs2.load(str(bundle / "subtitles.srt"))   # the Chinese files stay Chinese only
        assert not any(c.isascii() and c.isalpha() and c.islower() for e in zh for c in e.plaintext.replace(
            "SavedModel", "").replace("TFLite", ""))
    record = json.loads((main / "timeline.json").read_text("utf-8"))["subtitles"]
    assert record == {"lang": "zh-CN", "burn_in": True, "bilingual": True, "files": {
        "zh": {"lang": "zh-CN", "srt": "subtitles.srt", "bcc": "subtitles.bcc.json"},
        "en": {"lang": "en-US", "srt": "subtitles.en.srt", "bcc": "subtitles.en.bcc.json"}}}
    assert cli.main(["check", str(rendered / "out" / "bi")]) == 0, capsys.readouterr().out
    report = capsys.readouterr().out
    assert "PASS  vertical: subtitles.en.bcc.json cues in order, within the video" in report, report


def test_check_fails_a_cue_past_the_end_and_overlapping_cues(rendered, tmp_path):
    folder = tmp_path / "bundle"
    shutil.copytree(rendered / "out" / "bi" / "main", folder)
    srt = folder / "subtitles.srt"
    last_end = srt.read_text("utf-8").rstrip().splitlines()[-2].split(" --> ")[1]
    srt.write_text(srt.read_text("utf-8").replace(f"--> {last_end}", "--> 00:00:30,000"), encoding="utf-8")
    bcc = json.loads((folder / "subtitles.en.bcc.json").read_text("utf-8"))
    bcc["body"][0]["to"] = bcc["body"][1]["from"] + 0.5
    (folder / "subtitles.en.bcc.json").write_text(json.dumps(bcc), encoding="utf-8")
    failed = {c.name: c.detail for c in check_bundle(folder) if not c.ok}
    assert set(failed) == {"subtitles.srt cues in order, within the video",
                           "subtitles.en.bcc.json cues in order, within the video"}, failed
    assert "cue 2 (" in failed["subtitles.srt cues in order, within the video"]
    assert "--> 0:30.000) ends after the video (0:08." in failed["subtitles.srt cues in order, within the video"]
    overlap = failed["subtitles.en.bcc.json cues in order, within the video"]
    assert overlap.startswith("cue 1 (0:00.800 --> ") and "overlaps cue 2, which starts at" in overlap, overlap
    # an English file the timeline lists but the bundle lacks
    (folder / "subtitles.en.srt").unlink()
    assert any(c.name == "subtitles.en.srt parses" and c.detail == "missing" and not c.ok
               for c in check_bundle(folder))


def test_cc_only_burns_nothing_and_the_language_changes_no_picture(rendered):
    """`burn_in: false` (CC only): the same frame's subtitle band is empty, the
    files are still written; a changed `lang` changes no segment's key nor
    any burned-in chunk (its ASS), only the record in timeline.json."""
    from bilicast.build import _burned_in
    from bilicast.episode import load_episode
    from bilicast.plan import plan_segments
    from bilicast.render import plan_with_voice
    ws = rendered
    cc = SCRIPT.replace("id: bi\n", "id: cc\n").replace("{bilingual: true}", "{burn_in: false, bilingual: true}")
    (ws / "cc.yaml").write_text(cc, encoding="utf-8")
    proc = run_cli(ws, "render", "cc.yaml", "--preview", "--variant", "main")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first = pysubs2.load(str(ws / "out" / "bi" / "main" / "subtitles.ass")).events[0]
    t = (first.start + first.end) / 2000
    burned, plain = (frame(ws / "out" / e / "main" / "video.mp4", t) for e in ("bi", "cc"))
    h, w = plain.shape
    top, _ = band(variants.get("main"), w, h)
    assert (burned[int(top):] > 200).sum() > 200 and not (plain[int(top):] > 200).any()
    assert (ws / "out" / "cc" / "main" / "subtitles.en.srt").exists()
    record = json.loads((ws / "out" / "cc" / "main" / "timeline.json").read_text("utf-8"))["subtitles"]
    assert record["burn_in"] is False

    def burned_in(text):
        (ws / "k.yaml").write_text(text, encoding="utf-8")
        ep = load_episode(ws / "k.yaml")
        jobs = plan_segments(plan_with_voice(ep, preview=True)[0], ep.scenes, ep)
        return [(j.key, _burned_in(j)) for j in jobs]
    base = burned_in(SCRIPT)
    assert burned_in(SCRIPT.replace("{bilingual: true}", "{bilingual: true, lang: zh-Hans}")) == base
    changed = burned_in(SCRIPT.replace("four times smaller", "a quarter of the size"))
    assert changed[0][0] != base[0][0] and changed[0][1] != base[0][1]   # bilingual: the English is in the picture
    chinese_only = SCRIPT.replace("{bilingual: true}", "{max_chars: 20}")
    assert burned_in(chinese_only.replace("four times smaller", "a quarter of the size")) == burned_in(chinese_only)


def test_subs_writes_english_files_and_removes_stale_ones(workspace):
    (workspace / "ep.yaml").write_text(SCRIPT, encoding="utf-8")
    out = workspace / "o"
    assert cli.main(["subs", str(workspace / "ep.yaml"), "--format", "srt,bcc", "--out", str(out),
                     "--variant", "main"]) == 0
    folder = out / "bi" / "main"
    assert sorted(p.name for p in folder.iterdir()) == ["subtitles.bcc.json", "subtitles.en.bcc.json",
                                                        "subtitles.en.srt", "subtitles.srt"]
    no_english = "\n".join(ln for ln in SCRIPT.splitlines() if not ln.strip().startswith("en:"))
    (workspace / "ep.yaml").write_text(no_english, encoding="utf-8")
    assert cli.main(["subs", str(workspace / "ep.yaml"), "--format", "srt,bcc", "--out", str(out),
                     "--variant", "main"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["subtitles.bcc.json", "subtitles.srt"]


def test_a_line_without_english_is_named_by_validate(workspace):
    (workspace / "ep.yaml").write_text(SCRIPT.replace("        en: After quantization the model is four times "
                                                      "smaller.\n", ""), encoding="utf-8")
    proc = run_cli(workspace, "validate", "ep.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "segment intro, line 2 has no English" in proc.stderr, proc.stderr


def test_cue_widths_are_what_the_burned_line_shows():
    # the bilingual Chinese line keeps to the variant's line length
    seg = SegmentTiming("a", 0.0, 12.0, 720, (LineTiming(ZH, 0.8, 9.0),))
    for size, chars in [((1920, 1080), 20), ((480, 854), 15)]:
        cues = build_cues([seg], chars, en=[(EN,)], en_max=en_chars(*size))
        assert all(width(c.lines[0]) <= chars and len(c.en[0]) <= en_chars(*size) for c in cues), cues
