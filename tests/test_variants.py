"""The recipe of docs/variants.md, followed as a creator would: one new file,
variants/square.py in the workspace, found by the registry with no other
edit, then rendered beside the main cut through the real CLI."""
import json
import subprocess
import sys

from conftest import ROOT, ffprobe

SQUARE = '''\
"""A 1:1 cut (1080x1080 at 1080p) for feeds that show square videos."""
from bilicast.variants import Cover, Variant

VARIANT = Variant(aspect=(1, 1), subtitle_margin=0.06, subtitle_band=1.0,
                  chart_box=(0.05, 0.3, 0.9, 0.4), cover=Cover((1080, 1080), (80, 100, 1000, 900)))
'''

SCRIPT = """\
episode:
  id: sq
  title: 方形画幅
  voice: {mode: tts, backend: espeak}
  variants: [main, square]
segments:
  - id: intro
    scene: titles.TitleCard
    params: {title: 一个文件加一种画幅}
    narration: [加一个文件，就多一种画幅。]
  - id: list
    scene: bullets.Checklist
    params: {title: 要点, items: [几何决定布局, 场景只问空间]}
    narration: [场景只问还有多少空间。]
"""


def cli(workspace, *args):
    return subprocess.run([sys.executable, "-m", "bilicast.cli", *args], capture_output=True, text=True,
                          cwd=workspace)


def square_workspace(tmp_path, script=SCRIPT):
    (tmp_path / "scenes").symlink_to(ROOT / "scenes")
    (tmp_path / "variants").mkdir()
    (tmp_path / "variants" / "square.py").write_text(SQUARE, encoding="utf-8")
    (tmp_path / "ep.yaml").write_text(script, encoding="utf-8")
    return tmp_path


def test_a_square_variant_is_one_file(tmp_path):
    ws = square_workspace(tmp_path)
    proc = cli(ws, "render", "ep.yaml", "--preview", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bundles = json.loads(proc.stdout)["bundles"]
    assert [b.rsplit("/", 1)[1] for b in bundles] == ["main", "square"]
    square = ws / "out" / "sq" / "square"
    video = next(s for s in ffprobe(square / "video.mp4")["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (480, 480)
    assert not (square / "cover_4x3.jpg").exists()
    check = cli(ws, "check", "out/sq/square")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "1:1 square" in check.stdout and "cover.jpg 1080x1080" in check.stdout, check.stdout


def test_an_unknown_variant_lists_the_available_ones(tmp_path):
    ws = square_workspace(tmp_path, SCRIPT.replace("[main, square]", "[main, sqaure]"))
    proc = cli(ws, "validate", "ep.yaml")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "ep.yaml:5:20: episode.variants[1]: unknown variant 'sqaure'" in proc.stderr, proc.stderr
    assert "did you mean 'square'?" in proc.stderr and "main, vertical, square" in proc.stderr, proc.stderr
    assert cli(ws, "validate", "ep.yaml").returncode == 2
    (ws / "ep.yaml").write_text(SCRIPT, encoding="utf-8")
    assert cli(ws, "validate", "ep.yaml").returncode == 0
