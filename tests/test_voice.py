"""The voice: spoken forms, the neural model's rewrite, and a real
synthesis → recognition round trip (no mocks)."""
import json
import subprocess
import sys

import pytest

from bilicast import listen, zhvoice
from bilicast.voices.espeak import Backend as EspeakBackend
from bilicast.spoken import to_spoken


SPOKEN = [
    # units and numbers the way a presenter says them
    ("体积551 KB", "体积五百五十一开必"),
    ("只有0.55 MB", "只有零点五五兆字节"),
    ("延迟0.0529 ms", "延迟零点零五二九毫秒"),
    ("每秒18,886 FPS", "每秒一万八千八百八十六帧每秒"),
    ("训练了12.3秒", "训练了十二点三秒"),
    ("快了3.8×", "快了三点八倍"),
    ("快了3.8x", "快了三点八倍"),
    ("是原来的1/3.8", "是原来的三点八分之一"),
    ("准确率99.2%", "准确率百分之九十九点二"),
    # signs
    ("变化−0.2%", "变化负百分之零点二"),
    ("变化-0.2%", "变化负百分之零点二"),
    ("提升+1.5%", "提升正百分之一点五"),
    # integers: zeros, 十 at the start, 万 and 亿
    ("第10步", "第十步"), ("共1001个", "共一千零一个"), ("120000", "十二万"), ("100000000", "一亿"),
    ("10010", "一万零一十"), ("0", "零"),
    # versions and dates
    ("TF 2.21", "踢艾弗二点二一"), ("版本2.21.0", "版本二点二一点零"),
    ("测于2026-11-26", "测于二零二六年十一月二十六日"), ("2026年", "二零二六年"),
    # the lexicon, case-insensitively, with attached numbers
    ("把float32换成int8", "把福楼特三十二换成硬特爸"),
    ("用TFLite和tflite", "用提艾弗莱特和提艾弗莱特"),
    ("先训练CIFAR-10", "先训练赛法十"),
    ("用tf.function编译", "用踢艾弗点房克胜编译"),
    ("MobileNetV2", "摩拜耳奈特维二"),
    # acronyms letter by letter
    ("GPU和CPU", "吉批优和西批优"), ("ONNX", "欧恩恩艾克斯"),
    # plain Chinese passes through
    ("今天我们拿一个真实的小模型。", "今天我们拿一个真实的小模型。"),
]


@pytest.mark.parametrize("written,said", SPOKEN)
def test_spoken_form(written, said):
    spoken = to_spoken(written)
    assert spoken.text == said
    assert spoken.warnings == []


def test_overrides_win_over_the_lexicon():
    assert to_spoken("用TFLite", {"TFLite": "轻量版"}).text == "用轻量版"
    assert to_spoken("用Gradio", {"gradio": "格拉迪欧"}).text == "用格拉迪欧"


def test_unknown_latin_word_is_spelled_with_a_warning_not_dropped():
    spoken = to_spoken("试试Gradio")
    assert spoken.text == "试试吉阿尔诶迪艾欧"
    assert len(spoken.warnings) == 1 and "'Gradio'" in spoken.warnings[0] and "pronounce:" in spoken.warnings[0]


def test_validate_warns_about_words_the_voice_would_spell(workspace):
    path = workspace / "ep.yaml"
    path.write_text("episode: {id: p, title: 读音, voice: {mode: tts}}\n"
                    "segments:\n  - {id: a, scene: titles.TitleCard, params: {title: 你好}, narration: [试试Gradio吧。]}\n",
                    encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "bilicast.cli", "validate", str(path)], capture_output=True,
                          text=True, cwd=workspace)
    assert proc.returncode == 0
    assert f"{path}:3: warning: segment a, line 1: 'Gradio'" in proc.stderr
    path.write_text(path.read_text(encoding="utf-8").replace("voice: {mode: tts}",
                                                             "voice: {mode: tts}, pronounce: {Gradio: 格拉迪欧}"),
                    encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "bilicast.cli", "validate", str(path)], capture_output=True,
                          text=True, cwd=workspace)
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr


def test_pronounce_is_validated(workspace):
    from bilicast.yamlsource import ScriptProblems
    from bilicast.script import load_script
    path = workspace / "ep.yaml"
    path.write_text("episode: {id: p, title: 读音, pronounce: {TFLite: tf-lite}}\n"
                    "segments:\n  - {id: a, scene: titles.TitleCard, params: {title: 你好}, narration: [你好。]}\n",
                    encoding="utf-8")
    with pytest.raises(ScriptProblems) as e:
        load_script(path, workspace=workspace)
    assert "pronounce" in e.value.format() and ":1:" in e.value.format()


def test_chinese_numerals_compare_by_value():
    assert listen.cn_value("五百五十一千") == "551000"
    assert listen.cn_value("零点零五二九") == "0.0529"
    assert listen.cn_value("一亿二千万") == "120000000"
    assert listen.comparable("从551,000字节") == listen.comparable("从五百五十一千字节")
    assert listen.comparable("體積") == "体积"     # traditional characters count as simplified


def test_sound_alike_characters_are_not_errors():
    row = {"segment": "s", "line": 0, "text": "权重加载"}
    s = listen.score(row, "全中加再")
    assert s.exact_errors == 3 and s.errors == 0
    assert listen.score(row, "完全不对").errors == 4


def test_flex_rewrite_leaves_builtin_ops_only_and_is_deterministic(tmp_path, monkeypatch):
    from ai_edge_litert.tools import flatbuffer_utils
    source = zhvoice.package_dir() / "asset" / "fastspeech2_quan.tflite"
    original = flatbuffer_utils.read_model(str(source))
    assert "CUSTOM:FlexRandomUniform" in zhvoice.op_names(original)
    monkeypatch.setenv("BILICAST_MODEL_DIR", str(tmp_path / "a"))
    first = zhvoice.builtin_model().read_bytes()
    monkeypatch.setenv("BILICAST_MODEL_DIR", str(tmp_path / "b"))
    second = zhvoice.builtin_model().read_bytes()
    assert first == second
    rewritten = flatbuffer_utils.convert_bytearray_to_object(bytearray(first))
    names = zhvoice.op_names(rewritten)
    assert not [n for n in names if n.startswith("CUSTOM")]
    assert len(names) < len(zhvoice.op_names(original))
    # it loads with LiteRT's builtin kernels and speaks the same samples twice
    voice = zhvoice.Voice()
    a, b = voice.synthesize("模型量化"), voice.synthesize("模型量化")
    assert (a == b).all() and 0.3 < len(a) / zhvoice.SAMPLE_RATE < 3 and 0.05 < abs(a).max() <= 1.0


def test_espeak_fallback_gets_tone_numbered_pinyin(tmp_path):
    assert EspeakBackend.pinyin("先训练，再量化。") == "xian1 xun4 lian4, zai4 liang4 hua4."
    from bilicast.script import Voice
    target = tmp_path / "e.wav"
    EspeakBackend().synthesize("先训练，再量化。", Voice(mode="tts", backend="espeak"), target)
    assert target.stat().st_size > 10_000


ROUND_TRIP = """\
episode:
  id: listen
  title: 听得懂吗
  voice: {mode: tts}
segments:
  - id: a
    scene: titles.TitleCard
    params: {title: 听写测试}
    narration:
      - 今天我们拿一个真实的小模型，从训练一路走到手机能跑的格式。
      - 把float32的权重换成int8，体积从551 KB降到145 KB。
      - 速度快了3.8倍，准确率变化−0.2%。
"""


def test_round_trip_synthesis_then_recognition(workspace):
    """Render with the default neural voice, then `bilicast check --speech`
    transcribes each line from the video and scores it."""
    (workspace / "ep.yaml").write_text(ROUND_TRIP, encoding="utf-8")
    run = lambda *a: subprocess.run([sys.executable, "-m", "bilicast.cli", *a], capture_output=True, text=True,
                                    cwd=workspace)
    proc = run("render", "ep.yaml", "--preview")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    timeline = json.loads((workspace / "out" / "listen" / "main" / "timeline.json").read_text("utf-8"))
    lines = [e for e in timeline["events"] if "line" in e]
    assert lines[1]["spoken"] == "把福楼特三十二的权重换成硬特爸，体积从五百五十一开必降到一百四十五开必。"
    assert all(e["voiced"] for e in lines)
    proc = run("check", "--speech", "out/listen")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed, 0 failed" in proc.stdout
    pooled = float(proc.stdout.split("pooled CER ")[1].split()[0])
    assert pooled <= 0.10, proc.stdout


def test_check_speech_flags_a_line_that_was_not_said(workspace, tmp_path):
    """Silence where a line should be is a failed line, not a pass."""
    (workspace / "ep.yaml").write_text(ROUND_TRIP.replace("voice: {mode: tts}", "voice: {mode: silent}"),
                                       encoding="utf-8")
    run = lambda *a: subprocess.run([sys.executable, "-m", "bilicast.cli", *a], capture_output=True, text=True,
                                    cwd=workspace)
    assert run("render", "ep.yaml", "--preview").returncode == 0
    # a silent render has no voiced lines: the check says so instead of passing
    proc = run("check", "--speech", "out/listen")
    assert proc.returncode == 2 and "no voiced narration" in proc.stderr
    timeline = workspace / "out" / "listen" / "main" / "timeline.json"
    data = json.loads(timeline.read_text("utf-8"))
    for e in data["events"]:
        if "line" in e:
            e["voiced"] = True     # pretend they were voiced: the recognizer hears nothing
    timeline.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    proc = run("check", "--speech", "out/listen")
    assert proc.returncode == 1 and "0 passed, 3 failed" in proc.stdout
