"""The AI-content labels (bilicast/aigc.py, docs/aigc.md): the on-screen
label over the first seconds of every cut, drawn at finishing; the MP4's
AIGC metadata; `bilicast check` seeing both, and failing a bundle without
them. Rendered for real (espeak, preview) in both cuts, frames opened."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bilicast import aigc, legible, variants
from bilicast.bundle import grab_frame
from bilicast.errors import UserError
from bilicast.script import PREVIEW, RESOLUTIONS

from conftest import ROOT, write_take

# the opening line is short, so the label runs on into the second segment and its crossfade
SCRIPT = """\
episode:
  id: lab
  title: 标识测试
  voice: {mode: tts, backend: espeak}
  variants: [main, vertical]
segments:
  - id: intro
    scene: titles.TitleCard
    params: {title: 合成配音要标识}
    narration: [要标识。]
  - id: list
    transition: crossfade
    scene: bullets.Checklist
    params: {title: 两种标识, items: [画面上的文字, 文件里的元数据]}
    narration: [画面上一个，文件里一个。]
"""


def cli(workspace, *args):
    return subprocess.run([sys.executable, "-m", "bilicast.cli", *args], capture_output=True, text=True,
                          cwd=workspace)


def sizes():
    return [(name, variants.get(name).size(landscape)) for name in ("main", "vertical")
            for landscape in (RESOLUTIONS["1080p"], (PREVIEW["width"], PREVIEW["height"]))]


@pytest.mark.parametrize("name,size", sizes())
def test_the_label_is_tall_and_inside_the_title_safe_area_above_the_subtitles(name, size):
    variant = variants.get(name)
    label = aigc.place(aigc.LabelStyle(text="本视频含AI合成配音"), size, variant)
    w, h = size
    assert label.text_px >= 0.05 * min(w, h)   # 54 px at 1080p
    if min(w, h) == 1080:
        assert label.text_px == 54
    x, y, bw, bh = label.box
    frame = variant.frame(w, h)
    entry = {"text": label.style.text, "role": "text", "box": [x, y, x + bw, y + bh], "size_px": label.text_px}
    assert legible.problems([entry], w, h, frame.subtitle_top) == []   # size, title-safe area, above the band


def test_a_workspace_template_restyles_the_label_and_a_bad_one_is_named(tmp_path):
    from bilicast.script import load_script
    (tmp_path / "scenes").symlink_to(ROOT / "scenes")
    (tmp_path / "ep.yaml").write_text(SCRIPT, encoding="utf-8")
    script = load_script(tmp_path / "ep.yaml")
    assert aigc.label_style(script, tmp_path).text == "本视频含AI合成配音"
    (tmp_path / "templates").mkdir()
    own = tmp_path / "templates" / aigc.TEMPLATE
    own.write_text("text: AI合成语音 {{ synthesized }} 句\ncorner: top-right\n", encoding="utf-8")
    style = aigc.label_style(script, tmp_path)
    assert (style.text, style.corner) == ("AI合成语音 2 句", "top-right")
    w, h = 854, 480
    label = aigc.place(style, (w, h), variants.get("main"))
    assert label.box[0] + label.box[2] == w - round(w * 0.05)   # the safe area's right edge
    own.write_text("text: 小字\nheight: 0.03\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"aigc_label\.yaml\.j2: height: .*0\.05"):
        aigc.label_style(script, tmp_path)


def test_metadata_problems_are_named():
    good = aigc.metadata(load_demo_script(), "k" * 64)
    assert aigc.metadata_problem(good) is None
    value = json.loads(good["AIGC"])
    assert value["Label"] == "1" and value["ProduceID"] == "k" * 64 and list(value) == list(aigc.METADATA_FIELDS)
    assert aigc.metadata_problem({}) == "no AIGC metadata"
    assert "lacks ProduceID" in aigc.metadata_problem({"AIGC": json.dumps({k: "" for k in aigc.METADATA_FIELDS
                                                                            if k != "ProduceID"})})
    assert "Label is '0'" in aigc.metadata_problem({"AIGC": json.dumps({**value, "Label": "0"})})


def load_demo_script():
    from bilicast.script import load_script
    return load_script(ROOT / "scripts" / "demo.yaml")


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """The episode rendered at preview in both cuts, then again with aigc: never (into out-never)."""
    ws = tmp_path_factory.mktemp("aigc")
    (ws / "scenes").symlink_to(ROOT / "scenes")
    (ws / "ep.yaml").write_text(SCRIPT, encoding="utf-8")
    proc = cli(ws, "render", "ep.yaml", "--preview")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (ws / "never.yaml").write_text(SCRIPT.replace("  variants:", "  aigc: never\n  variants:"), encoding="utf-8")
    never = cli(ws, "render", "never.yaml", "--preview", "--out", "out-never")
    assert never.returncode == 0, never.stderr[-3000:]
    return ws, never.stderr


def label_of(bundle: Path) -> aigc.Label:
    return aigc.Label.from_record(json.loads((bundle / "timeline.json").read_text())["aigc"]["label"])


@pytest.mark.parametrize("cut", ["main", "vertical"])
def test_the_label_shows_from_0_through_2_s_in_both_cuts_and_then_goes(labelled, cut):
    ws, _ = labelled
    bundle = ws / "out" / "lab" / cut
    label = label_of(bundle)
    timeline = json.loads((bundle / "timeline.json").read_text())
    assert timeline["segments"][1]["start"] < label.until   # the label runs on into the second segment
    for t in (0.0, 1.0, 2.0, 2.9):
        ok, detail = aigc.shown(grab_frame(bundle / "video.mp4", t), label)
        assert ok, (t, detail)
    ok, detail = aigc.shown(grab_frame(bundle / "video.mp4", 3.2), label)
    assert not ok, detail
    grab_frame(bundle / "video.mp4", 1.0).save(ws / f"label-{cut}.png")   # looked at: see docs/aigc.md


@pytest.mark.parametrize("cut", ["main", "vertical"])
def test_the_label_covers_nothing_and_changes_only_its_box(labelled, cut):
    """Unlabelled, the label's box is plain background at 0-2 s (it hides no
    text of the scene), and outside the box the two pictures are the same."""
    ws, _ = labelled
    label = label_of(ws / "out" / "lab" / cut)
    x, y, w, h = label.box
    for t in (0.0, 1.0, 2.0):
        with_label = np.asarray(grab_frame(ws / "out" / "lab" / cut / "video.mp4", t), dtype=float)
        without = np.asarray(grab_frame(ws / "out-never" / "lab" / cut / "video.mp4", t), dtype=float)
        under = without[y:y + h, x:x + w]
        assert (np.abs(under - under.reshape(-1, 3).mean(axis=0)).max()) < 12, t   # plain background
        outside = np.ones(with_label.shape[:2], bool)
        outside[max(0, y - 8):y + h + 8, max(0, x - 8):x + w + 8] = False   # the encoder's blocks at its edge
        assert np.abs(with_label[outside] - without[outside]).mean() < 1.0, t


def test_check_passes_the_labels_and_fails_a_copy_without_them(labelled, tmp_path):
    ws, never_stderr = labelled
    proc = cli(ws, "check", "out/lab")
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.count("PASS  main: AI-content label on screen") == 1
    assert proc.stdout.count("PASS  vertical: AI-content metadata (AIGC)") == 1
    desc = (ws / "out" / "lab" / "main" / "description.txt").read_text()
    assert desc.rstrip().endswith("本视频的配音由AI语音合成（espeak）生成。")
    stripped = tmp_path / "stripped"
    shutil.copytree(ws / "out" / "lab" / "main", stripped)
    (stripped / "video.mp4").unlink()
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(ws / "out" / "lab" / "main" / "video.mp4"),
                    "-map_metadata", "-1", "-c", "copy", "-movflags", "+faststart", str(stripped / "video.mp4")],
                   check=True)
    proc = cli(ws, "check", str(stripped))
    assert proc.returncode == 1
    assert "FAIL  AI-content metadata (AIGC)" in proc.stdout and "no AIGC metadata" in proc.stdout
    assert "PASS  AI-content label on screen" in proc.stdout
    # aigc: never over TTS lines: a warning naming them, no labels, and check fails the bundle
    assert "warning: episode.aigc: `never`, but 2 line(s) are voiced by TTS (intro line 1, list line 1)" \
        in never_stderr
    proc = cli(ws, "check", "out-never/lab/main")
    assert proc.returncode == 1
    assert "FAIL  AI-content label on screen" in proc.stdout and "FAIL  AI-content metadata" in proc.stdout


def test_a_recorded_episode_carries_no_labels(workspace):
    write_take(workspace / "takes" / "a.wav", 1.5)
    write_take(workspace / "takes" / "b.wav", 1.5)
    script = SCRIPT.replace("mode: tts, backend: espeak", "mode: recorded").replace("  variants: [main, vertical]\n", "")
    script = script.replace("[要标识。]", "[{text: 要标识。, audio: takes/a.wav}]")
    script = script.replace("[画面上一个，文件里一个。]", "[{text: 画面上一个，文件里一个。, audio: takes/b.wav}]")
    (workspace / "ep.yaml").write_text(script, encoding="utf-8")
    proc = cli(workspace, "render", "ep.yaml", "--preview")
    assert proc.returncode == 0, proc.stderr[-3000:]
    bundle = workspace / "out" / "lab" / "main"
    timeline = json.loads((bundle / "timeline.json").read_text())
    assert timeline["aigc"] is None and not any(e.get("synthesized") for e in timeline["events"])
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-of", "json", str(bundle / "video.mp4")],
                           capture_output=True, text=True, check=True)
    assert "AIGC" not in json.loads(probe.stdout)["format"].get("tags", {})
    assert "本视频" not in (bundle / "description.txt").read_text()
    proc = cli(workspace, "check", str(bundle))
    assert proc.returncode == 0 and "PASS  AI-content labels" in proc.stdout and "none needed" in proc.stdout
