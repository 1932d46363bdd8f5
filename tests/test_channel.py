"""The channel file (bilicast/channel.py, docs/channel.md): channel.yaml is
checked like a script, laid under every episode (which may override any
part), places the opening and the end card, and its watermark is laid over
every frame at finishing. Rendered for real at preview, frames opened."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bilicast.bundle import grab_frame
from bilicast.script import chapter_titles, load_script_located
from bilicast.yamlsource import ScriptProblems

from conftest import ROOT

EPISODE = """\
episode:
  id: chan
  title: 频道测试
  voice: {mode: silent}
  variants: [main, vertical]
segments:
  - id: a
    scene: titles.TitleCard
    params: {title: 第一段}
    narration: [先把模型导出。]
  - id: b
    scene: bullets.Checklist
    params: {title: 清单, items: [形状, 精度]}
    narration: [再检查两件事。]
"""

LOGO = """<svg xmlns="http://www.w3.org/2000/svg" width="120" height="120" viewBox="0 0 120 120">
<rect x="4" y="4" width="112" height="112" rx="24" fill="#00a1d6"/><circle cx="60" cy="60" r="28" fill="#ffffff"/></svg>
"""


def cli(workspace, *args):
    return subprocess.run([sys.executable, "-m", "bilicast.cli", *args, *(["--no-studio"] if args[0] == "render"
                                                                        else [])],
                          capture_output=True, text=True, cwd=workspace)


def make_workspace(root: Path, channel: str | None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "scenes").symlink_to(ROOT / "scenes")
    (root / "assets").mkdir()
    (root / "assets" / "logo.svg").write_text(LOGO, encoding="utf-8")
    (root / "ep.yaml").write_text(EPISODE, encoding="utf-8")
    if channel is not None:
        (root / "channel.yaml").write_text(channel, encoding="utf-8")
    return root


def test_a_channel_file_error_is_named_at_its_own_line_and_column(tmp_path):
    ws = make_workspace(tmp_path / "ws", "name: 我的频道\nstyle:\n  accent: blue\nwatermark: {corner: middle}\n")
    proc = cli(ws, "validate", "ep.yaml")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "channel.yaml:3:11: style.accent: is not in the expected form" in proc.stderr
    assert "write a colour as #RRGGBB" in proc.stderr
    assert "channel.yaml:4:21: watermark.corner" in proc.stderr
    (ws / "channel.yaml").write_text("style: {accent: '#112233'}\nlogo: assets/nope.svg\n", encoding="utf-8")
    proc = cli(ws, "validate", "ep.yaml")
    assert proc.returncode == 2
    assert "channel.yaml:1:1: name: the channel has no name" in proc.stderr
    assert "channel.yaml:2:7: logo: the file 'assets/nope.svg' does not exist" in proc.stderr


def test_an_episode_inherits_the_channel_and_overrides_any_part(tmp_path):
    ws = make_workspace(tmp_path / "ws", """\
name: 张老师讲TF
logo: assets/logo.svg
style: {accent: '#ff8800', font: Noto Sans CJK SC}
voice: {backend: espeak, rate: 0.85}
pronounce: {TFLite: 提艾弗莱特, Keras: 凯拉斯}
music: {file: assets/music.ogg, volume: 0.2}
watermark: {corner: top-right}
""")
    shutil.copy(ROOT / "assets" / "music" / "soft-pad.ogg", ws / "assets" / "music.ogg")
    (ws / "ep.yaml").write_text(EPISODE.replace("  voice: {mode: silent}\n", """\
  voice: {mode: tts}
  style: {highlight: '#00ff00'}
  pronounce: {Keras: 克拉斯}
""") + "channel: {watermark: {corner: bottom-left}}\n", encoding="utf-8")
    script, located = load_script_located(ws / "ep.yaml", workspace=ws)
    ep = script.episode
    assert (ep.style.accent, ep.style.highlight) == ("#ff8800", "#00ff00")   # the channel's, and the episode's own
    assert (ep.voice.mode, ep.voice.backend, ep.voice.rate) == ("tts", "espeak", 0.85)
    assert ep.pronounce == {"TFLite": "提艾弗莱特", "Keras": "克拉斯"}   # the episode's entry wins
    assert ep.music.file == "assets/music.ogg" and ep.producer == "张老师讲TF"   # one producer field
    assert ep.watermark.corner == "bottom-left" and script.channel.logo == "assets/logo.svg"
    assert located.position(("segments", 1, "params")) == (15, 13)   # no segments were added


def test_the_opening_and_the_end_card_are_placed_and_chapters_start_after_the_opening(tmp_path):
    ws = make_workspace(tmp_path / "ws", """\
name: 张老师讲TF
logo: assets/logo.svg
opening: {tagline: 每周一个实战, seconds: 2.5}
end_card: {}
""")
    (ws / "ep.yaml").write_text(EPISODE.replace("  variants:", "  next: 模型剪枝\n  variants:"), encoding="utf-8")
    script, located = load_script_located(ws / "ep.yaml", workspace=ws)
    ids = [s.id for s in script.segments]
    assert ids == ["opening", "a", "b", "end-card"]
    opening, card = script.segments[0], script.segments[-1]
    assert opening.scene == "brand.Opening" and opening.min_duration == 2.5 and not opening.narration
    assert opening.params == {"name": "张老师讲TF", "logo": "assets/logo.svg", "tagline": "每周一个实战"}
    assert card.scene == "brand.EndCard" and card.params["next"] == "模型剪枝"
    assert card.narration[0].text == "感谢收看！觉得有用的话，一键三连，关注张老师讲TF。下期我们讲模型剪枝。"
    assert located.position(("segments", 1, "params")) == (10, 13)   # the script's first segment, where it is
    assert chapter_titles(script)[0][0] == 1 and all(i != 3 for i, _ in chapter_titles(script))
    (ws / "ep.yaml").write_text(EPISODE.replace("  variants:", "  intro: none\n  outro: none\n  variants:"),
                                encoding="utf-8")
    assert [s.id for s in load_script_located(ws / "ep.yaml", workspace=ws)[0].segments] == ["a", "b"]
    # an error in the script after an added opening still points at its own line
    (ws / "ep.yaml").write_text(EPISODE.replace("bullets.Checklist", "bullets.Checklist\n    min_duration: -1"),
                                encoding="utf-8")
    with pytest.raises(ScriptProblems) as e:
        load_script_located(ws / "ep.yaml", workspace=ws)
    assert (e.value.problems[0].line, e.value.problems[0].where) == (13, "segments[1].min_duration")   # as the script numbers it


@pytest.fixture(scope="module")
def watermarked(tmp_path_factory):
    """The episode rendered at preview in both cuts without a channel and with a watermark-only one."""
    root = tmp_path_factory.mktemp("channel")
    plain = make_workspace(root / "plain", None)
    marked = make_workspace(root / "marked", "name: 张老师讲TF\nlogo: assets/logo.svg\n"
                                             "watermark: {corner: top-right, opacity: 0.6}\n")
    for ws in (plain, marked):
        proc = cli(ws, "render", "ep.yaml", "--preview")
        assert proc.returncode == 0, proc.stderr[-3000:]
    return plain, marked


@pytest.mark.parametrize("cut", ["main", "vertical"])
def test_a_watermark_only_channel_changes_nothing_outside_the_logos_box(watermarked, cut):
    plain, marked = watermarked
    record = json.loads((marked / "out" / "chan" / cut / "timeline.json").read_text())["watermark"]
    x, y, w, h = record["box"]
    assert json.loads((plain / "out" / "chan" / cut / "timeline.json").read_text())["watermark"] is None
    for t in (0.5, 2.0, 4.0):
        a = np.asarray(grab_frame(plain / "out" / "chan" / cut / "video.mp4", t), dtype=float)
        b = np.asarray(grab_frame(marked / "out" / "chan" / cut / "video.mp4", t), dtype=float)
        outside = np.ones(a.shape[:2], bool)
        outside[max(0, y - 8):y + h + 8, max(0, x - 8):x + w + 8] = False   # the encoder's blocks at its edge
        assert np.abs(a[outside] - b[outside]).mean() < 0.5, t   # H.264 noise only (the demo: at most 0.11)
        logo = b[y:y + h, x:x + w]   # the logo's blue, at its opacity over the dark background
        blue = (logo[..., 2] > logo[..., 0] + 40).mean()
        assert blue > 0.25, (t, blue)
        assert (np.abs(a[y:y + h, x:x + w] - a[y:y + h, x:x + w].reshape(-1, 3).mean(axis=0)).max()) < 12


def test_a_changed_watermark_refinishes_without_rendering_an_animation(watermarked, tmp_path):
    _, marked = watermarked
    ws = tmp_path / "again"
    shutil.copytree(marked, ws, symlinks=True)
    (ws / "channel.yaml").write_text("name: 张老师讲TF\nlogo: assets/logo.svg\n"
                                     "watermark: {corner: top-right, opacity: 0.9}\n", encoding="utf-8")
    proc = cli(ws, "plan", "ep.yaml", "--preview")
    assert proc.returncode == 0, proc.stderr
    rows = [ln for ln in proc.stdout.splitlines() if "to build" in ln]
    assert len(rows) == 4, proc.stdout   # both segments, both cuts
    assert all("channel.yaml watermark: every chunk is re-encoded" in ln and "animation reused: finish only" in ln
               for ln in rows), proc.stdout
    animations = sorted((ws / ".cache" / "animations").iterdir())
    proc = cli(ws, "render", "ep.yaml", "--preview")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted((ws / ".cache" / "animations").iterdir()) == animations   # Manim rendered nothing
    record = json.loads((ws / "out" / "chan" / "main" / "timeline.json").read_text())["watermark"]
    assert record["opacity"] == 0.9
    # a colour the channel gives: named where it is set, and Manim draws again
    (ws / "channel.yaml").write_text("name: 张老师讲TF\nlogo: assets/logo.svg\nstyle: {accent: '#ff7a45'}\n"
                                     "watermark: {corner: top-right, opacity: 0.9}\n", encoding="utf-8")
    proc = cli(ws, "plan", "ep.yaml", "--preview")
    rows = [ln for ln in proc.stdout.splitlines() if "to build" in ln]
    assert len(rows) == 4 and all("(channel.yaml style.accent changed)" in ln for ln in rows), proc.stdout


def test_the_watermark_covers_no_text_of_the_scenes(watermarked):
    from bilicast.episode import load_episode
    from bilicast.render import render_episode
    from bilicast.studio import legibility
    from bilicast.watermark import covered_texts
    _, marked = watermarked
    episode = load_episode(marked / "ep.yaml")
    report = render_episode(episode, marked / "out", preview=True, variants=("main", "vertical"))
    assert report.animated == 0 and len(report.jobs) == 2   # all cached: the same render as the fixture's
    for jobs in report.jobs:
        assert all(len(job.stamps) == 1 for job in jobs)   # the watermark (a silent episode carries no label)
        assert not [w for w in legibility(jobs, episode) if "watermark" in w["problem"]]
    text = {"text": "标题", "box": [100, 40, 400, 100]}
    assert covered_texts((380, 50, 60, 60), [text]) == ["标题"] and covered_texts((420, 50, 60, 60), [text]) == []


@pytest.mark.parametrize("cut", ["main", "vertical"])
@pytest.mark.parametrize("corner", ["top-right", "top-left", "bottom-right", "bottom-left"])
def test_the_watermark_sits_in_the_margin_clear_of_text_subtitles_and_the_label(tmp_path, cut, corner):
    """Outside the title-safe area (where scenes keep their text), inside the
    frame, above the subtitle band, clear of the AI-content label's box."""
    from bilicast import aigc, variants
    from bilicast.script import PREVIEW, RESOLUTIONS, Watermark
    from bilicast.watermark import _overlap, place
    (tmp_path / "logo.svg").write_text(LOGO, encoding="utf-8")
    variant = variants.get(cut)
    for landscape in (RESOLUTIONS["1080p"], (PREVIEW["width"], PREVIEW["height"])):
        w, h = variant.size(landscape)
        label = aigc.place(aigc.LabelStyle(text="本视频含AI合成配音"), (w, h), variant)
        x, y, bw, bh = place(Watermark(corner=corner), tmp_path / "logo.svg", (w, h), variant, label.box).box
        mx, my = round(w * variant.safe_margin), round(h * variant.safe_margin)
        assert 0 <= x and x + bw <= w and 0 <= y and y + bh <= h
        assert not _overlap((x, y, bw, bh), (mx, my, w - 2 * mx, h - 2 * my)), (w, h)   # outside title-safe
        assert not _overlap((x, y, bw, bh), label.box)
        frame = variant.frame(w, h)
        assert y + bh <= (frame.height / 2 - frame.subtitle_top) * h / frame.height   # above the subtitle band


def test_the_opening_is_rendered_once_per_channel_and_the_end_card_per_episode(tmp_path):
    ws = make_workspace(tmp_path / "ws", "name: 张老师讲TF\nlogo: assets/logo.svg\nopening: {seconds: 2.5}\n"
                                         "end_card: {}\n")
    one = EPISODE.replace("  variants: [main, vertical]\n", "  next: 第二集\n")
    (ws / "ep.yaml").write_text(one, encoding="utf-8")
    (ws / "ep2.yaml").write_text(one.replace("id: chan", "id: chan2").replace("next: 第二集", "next: 第三集"),
                                 encoding="utf-8")
    proc = cli(ws, "render", "ep.yaml", "--preview")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {ln.split()[0]: ln for ln in cli(ws, "plan", "ep2.yaml", "--preview").stdout.splitlines()
            if ln.startswith("  ") and ("cached" in ln or "to build" in ln)}
    assert rows["opening"].split()[1] == "cached" and rows["a"].split()[1] == "cached", rows
    assert "to build" in rows["end-card"], rows   # it names the next episode
    timeline = json.loads((ws / "out" / "chan" / "main" / "timeline.json").read_text())
    assert [s["scene"] for s in timeline["segments"]] == ["brand.Opening", "titles.TitleCard", "bullets.Checklist",
                                                          "brand.EndCard"]
    desc = (ws / "out" / "chan" / "main" / "description.txt").read_text(encoding="utf-8")
    assert "\n0:02 " in desc and "\n0:00 " not in desc   # chapters start where the opening ends
