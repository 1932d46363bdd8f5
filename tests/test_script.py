"""The episode script: valid scripts load, bad ones fail with file:line:col, exit 2, no traceback."""
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bilicast import cli
from bilicast.script import load_script, reading_seconds

ROOT = Path(__file__).resolve().parents[1]

GOOD = """\
episode:
  id: t1
  title: 测试标题
segments:
  - id: a
    scene: titles.TitleCard
    params: {title: 你好}
    narration:
      - 第一句话。
"""

# (name, script text, expected line, text the message must contain)
BAD = [
    ("yaml syntax", "episode:\n  id: t1\n  title: [unclosed\nsegments: []\n", 3,
     "the bracket opened on line 3 is never closed"),
    ("unclosed quote", 'episode:\n  id: t1\n  title: "unclosed\n  tags: []\nsegments:\n  - {id: a}\n', 3,
     "the quote opened on line 3 is never closed (the parser gave up on line 7"),
    ("deep nesting", "episode: " + "[" * 5000 + "\n", 1, "nest more than 40 levels"),
    ("tab indent", "episode:\n\tid: t1\n", 2, "tab"),
    ("unquoted colon", "episode:\n  id: t1\n  title: a: b\n", 3, 'quotes'),
    ("unknown top key", GOOD + "extra: 1\n", 10, "unknown key 'extra'"),
    ("typo in episode key", GOOD.replace("  title:", "  titel:"), 3, "did you mean 'title'"),
    ("typo in segment key", GOOD.replace("    narration:", "    naration:"), 8, "did you mean 'narration'"),
    ("missing episode", GOOD.split("segments:")[0].replace("episode:", "epi:"), 1, "unknown key 'epi'"),
    ("missing segments", GOOD.split("segments:")[0], 1, "'segments' is missing"),
    ("empty segments", GOOD.split("segments:")[0] + "segments: []\n", 4, "at least 1"),
    ("duplicate segment id", GOOD + "  - id: a\n    scene: titles.TitleCard\n    params: {title: x}\n"
     "    narration: [再来一句]\n", 10, "duplicate segment id 'a'"),
    ("unknown scene", GOOD.replace("titles.TitleCard", "titles.TitelCard"), 6, "did you mean 'titles.TitleCard'"),
    ("scene not module.Class", GOOD.replace("titles.TitleCard", "TitleCard"), 6, "module.Class"),
    ("scene param missing", GOOD.replace("{title: 你好}", "{subtitle: 你好}"), 7, "'title' is missing"),
    ("scene param unknown", GOOD.replace("{title: 你好}", "{title: 你好, colour: red}"), 7, "unknown key 'colour'"),
    ("scene param wrong type", GOOD.replace("titles.TitleCard", "pipeline.Flow").replace(
        "{title: 你好}", "{steps: 3}"), 7, "list"),
    ("title too long", GOOD.replace("测试标题", "长" * 81), 3, "at most 80 characters"),
    ("too many tags", GOOD.replace("  title: 测试标题\n", "  title: 测试标题\n  tags: [" +
                                   ", ".join(f"t{i}" for i in range(11)) + "]\n"), 4, "at most 10 items"),
    ("tag too long", GOOD.replace("  title: 测试标题\n", "  title: 测试标题\n  tags: [ok, " + "标" * 21 + "]\n"),
     4, "at most 20 characters"),
    ("empty tag", GOOD.replace("  title: 测试标题\n", "  title: 测试标题\n  tags: [ok, '']\n"), 4, "at least 1"),
    ("bad resolution", GOOD.replace("  title: 测试标题\n", "  title: 测试标题\n  output: {resolution: 1080i}\n"),
     4, "'720p', '1080p', '1440p' or '2160p'"),
    ("fps too high", GOOD.replace("  title: 测试标题\n", "  title: 测试标题\n  output:\n    fps: 240\n"),
     5, "at most 120"),
    ("bad episode id", GOOD.replace("id: t1", "id: 第一集"), 2, "lowercase letters"),
    ("bad colour", GOOD.replace("  title: 测试标题\n", "  title: 测试标题\n  style: {accent: blue}\n"), 4, "#RRGGBB"),
    ("narration not a list", GOOD.replace("    narration:\n      - 第一句话。\n", "    narration: {a: 1}\n"),
     8, "list"),
    ("empty narration line", GOOD.replace("- 第一句话。", "- ''"), 9, "at least 1"),
    ("no narration, no duration", GOOD.replace("    narration:\n      - 第一句话。\n", ""), 5, "min_duration"),
    ("duplicate key", GOOD.replace("  title: 测试标题\n", "  title: 测试标题\n  title: 又一个\n"), 4, "appears twice"),
    ("python tag", GOOD.replace("{title: 你好}", "{title: !!python/object/apply:os.system [ls]}"), 7,
     "not allowed"),
    ("two documents", GOOD + "---\na: 1\n", 10, "one YAML document"),
    ("not a mapping", "- just\n- a list\n", 1, "must be a mapping"),
    ("empty file", "", 1, "empty"),
]


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_good_script_loads(tmp_path):
    path = tmp_path / "good.yaml"
    path.write_text(GOOD, encoding="utf-8")
    script = load_script(path)
    assert script.episode.output.size == (1920, 1080)
    assert [line.text for line in script.segments[0].narration] == ["第一句话。"]


def test_demo_script_validates(capsys):
    code, out = run_cli(capsys, "validate", str(ROOT / "scripts" / "demo.yaml"))
    assert code == 0, out
    assert "ok" in out


@pytest.mark.parametrize("name,text,line,needle", BAD, ids=[b[0] for b in BAD])
def test_bad_script(tmp_path, capsys, name, text, line, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    code, out = run_cli(capsys, "validate", str(path))
    assert code == 2, out
    assert f"{path}:{line}:" in out, out
    assert needle in out, out
    assert "fix:" in out, out
    assert "Traceback" not in out


def test_render_of_bad_script_writes_nothing(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("titles.TitleCard", "titles.Nope"), encoding="utf-8")
    code, out = run_cli(capsys, "render", str(path), "--out", str(tmp_path / "out"))
    assert code == 2
    assert not (tmp_path / "out").exists()


HOSTILE = {
    "alias bomb": ("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                   + "".join(f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
                             for p, c in zip("abcdefgh", "bcdefghi"))).encode(),
    "huge scalar": b"episode:\n  title: " + b"x" * 3_000_000 + b"\n",
    "binary": b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)) * 10,
    "not utf-8": "episode:\n  title: 模型量化\n".encode("gbk"),
    "deep nesting": b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_file_fails_fast_and_clearly(tmp_path, capsys, name):
    path = tmp_path / "hostile.yaml"
    path.write_bytes(HOSTILE[name])
    started = time.monotonic()
    code, out = run_cli(capsys, "validate", str(path))
    assert time.monotonic() - started < 5
    assert code == 2, out
    assert f"{path}:" in out and "fix:" in out, out
    assert "Traceback" not in out


def test_cli_subprocess_exit_code_and_no_traceback(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("  title:", "  titel:"), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "bilicast.cli", "validate", str(path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert f"{path}:3:3: episode.titel: unknown key 'titel'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_reading_speed_estimate():
    assert reading_seconds("一二三四五六七八九十", 5.0) == pytest.approx(2.0)
    # Latin words count about 1.5 characters, punctuation adds a pause
    assert reading_seconds("TFLite，量化", 5.0) == pytest.approx((2 + 1.5) / 5 + 0.15)
