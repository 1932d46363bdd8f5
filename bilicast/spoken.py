"""Spoken form: what the voice says for a written line. Subtitles and the
picture keep the written text; TTS backends get this.

The neural voice speaks Chinese syllables only (it silently drops Latin
letters), so Latin terms come from a lexicon of readings in Chinese syllables,
acronyms are read letter by letter, and numbers with their units and signs
are read the way a presenter says them. Unknown Latin words are spelled out
letter by letter with a warning (never dropped). This file's hash is part of
every TTS cache key, so a changed reading re-synthesizes the lines.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

DIGITS = "零一二三四五六七八九"

# Letter names in syllables the voice has (used for acronyms and spelling).
LETTERS = {
    "A": "诶", "B": "必", "C": "西", "D": "迪", "E": "伊", "F": "艾弗", "G": "吉", "H": "艾尺", "I": "艾",
    "J": "杰", "K": "开", "L": "艾勒", "M": "艾姆", "N": "恩", "O": "欧", "P": "批", "Q": "丘", "R": "阿尔",
    "S": "艾斯", "T": "踢", "U": "优", "V": "维", "W": "达布溜", "X": "艾克斯", "Y": "歪", "Z": "泽",
}

# The field's vocabulary. Keys match case-insensitively as whole tokens.
LEXICON = {
    "TensorFlow": "坦色福楼", "Keras": "凯拉斯", "TFLite": "提艾弗莱特", "LiteRT": "莱特阿尔踢",
    "SavedModel": "赛屋德莫德尔", "TFX": "踢艾弗艾克斯", "TensorBoard": "坦色波德", "MobileNet": "摩拜耳奈特",
    "MobileNetV2": "摩拜耳奈特维二", "CIFAR": "赛法", "scikit-learn": "赛基特勒恩", "sklearn": "艾斯凯勒恩",
    "float32": "福楼特三十二", "float16": "福楼特十六", "float": "福楼特", "int8": "硬特爸", "uint8": "优硬特爸",
    "int": "硬特", "fp32": "艾弗批三十二", "fp16": "艾弗批十六",
    "TFLiteConverter": "提艾弗莱特康沃特", "Converter": "康沃特", "Interpreter": "因特普瑞特",
    "tf.function": "踢艾弗点房克胜", "tf.image": "踢艾弗点伊美吉", "tf.data": "踢艾弗点迪塔", "function": "房克胜",
    "Python": "派森", "NumPy": "南派", "OpenCV": "欧喷西维", "Open": "欧喷", "MLOps": "艾姆艾勒欧普斯",
    "DevOps": "德沃普斯",
    "App": "艾普", "Eager": "一格", "Trainer": "切纳", "Evaluator": "伊维留诶特",
    "Transform": "全斯佛姆", "Pusher": "普舍", "Optimization": "奥普替迈泽申", "CUDA": "库达",
    "cuDNN": "库迪恩恩", "Bilibili": "哔哩哔哩", "epoch": "一波克", "epochs": "一波克", "Android": "安卓",
    "iOS": "艾欧艾斯", "XNNPACK": "艾克斯恩恩派克", "Flex": "弗莱克斯", "Lite": "莱特", "Model": "莫德尔",
    "batch": "拜奇", "Dropout": "卓普奥特", "Dense": "丹斯", "Conv2D": "康夫兔迪", "ReLU": "瑞鲁",
    "Softmax": "索夫特麦克斯", "Adam": "亚当", "GitHub": "吉特哈布", "Manim": "马尼姆", "TF": "踢艾弗",
    "Google": "谷歌", "Jupyter": "朱皮特", "Colab": "扣莱布", "Linux": "林纳克斯", "Windows": "温豆斯",
    "ARM": "阿姆", "loss": "落斯", "Toolkit": "图尔吉特", "accuracy": "阿克瑞西", "Serving": "瑟文",
    "x86": "艾克斯八六", "RGB": "阿尔吉必", "BGR": "必吉阿尔",
}

# Units after a number, read as a presenter says them.
UNITS = {
    "KB": "开必", "MB": "兆字节", "GB": "吉字节", "TB": "太字节", "B": "字节", "ms": "毫秒", "μs": "微秒",
    "us": "微秒", "ns": "纳秒", "s": "秒", "min": "分钟", "h": "小时", "FPS": "帧每秒", "fps": "帧每秒",
    "px": "像素", "GHz": "吉赫兹", "MHz": "兆赫兹", "Hz": "赫兹", "dB": "分贝", "K": "千", "M": "百万",
    "x": "倍", "×": "倍", "%": "",
}

VERSIONED = {"tf", "tensorflow", "python", "keras", "litert", "numpy", "manim", "moviepy", "cuda", "ios", "android"}

_WORD = r"[A-Za-z][A-Za-z0-9]*(?:[.\-][A-Za-z0-9]+)*"
_NUM = r"[0-9][0-9,]*(?:\.[0-9]+)?"
_UNIT = "|".join(sorted((re.escape(u) for u in UNITS), key=len, reverse=True))
_TOKEN = re.compile(
    rf"(?P<date>(?<![0-9])\d{{4}}-\d{{1,2}}-\d{{1,2}}(?![0-9]))"
    rf"|(?P<version>(?<![0-9.])\d+\.\d+\.\d+(?![0-9.]))"
    rf"|(?P<frac>(?<![\d.])1/(?P<den>{_NUM}))"
    rf"|(?P<sign>[-−+±])?(?P<num>(?<![A-Za-z0-9_.]){_NUM})\s*(?P<unit>(?:{_UNIT})(?![A-Za-z]))?"
    rf"|(?P<word>{_WORD})"
)


@dataclass
class Spoken:
    text: str
    warnings: list[str] = field(default_factory=list)


def read_integer(digits: str) -> str:
    """Chinese reading of a non-negative integer: 18886 → 一万八千八百八十六."""
    n = int(digits)
    if n == 0:
        return "零"
    if n >= 10 ** 12:
        return read_digits(digits)

    def below_10000(v: int) -> str:
        out, zero = "", False
        for value, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
            d = v // value % 10
            if d:
                out += ("零" if zero and out else "") + DIGITS[d] + name
                zero = False
            else:
                zero = True
        return out

    parts, rest = [], n
    for name in ("", "万", "亿"):
        parts.append((rest % 10000, name))
        rest //= 10000
    out, pending_zero = "", False
    for value, name in reversed(parts):
        if value:
            if out and (pending_zero or value < 1000):
                out += "零"
            out += below_10000(value) + name
            pending_zero = False
        elif out:
            pending_zero = True
    return out[1:] if out.startswith("一十") else out


def read_number(text: str) -> str:
    """12.05 → 十二点零五; 18,886 → 一万八千八百八十六."""
    whole, _, frac = text.replace(",", "").partition(".")
    out = read_integer(whole or "0")
    if frac:
        out += "点" + read_digits(frac)
    return out


def read_digits(text: str) -> str:
    return "".join(DIGITS[int(c)] if c.isdigit() else c for c in text)


def spell(word: str) -> str:
    return "".join(LETTERS.get(c.upper(), read_digits(c) if c.isdigit() else "") for c in word)


def lexicon_with(overrides: dict[str, str] | None) -> dict[str, str]:
    lexicon = {k.lower(): v for k, v in LEXICON.items()}
    lexicon.update({k.lower(): v for k, v in (overrides or {}).items()})
    return lexicon


def say_latin_words(text: str, overrides: dict[str, str] | None = None) -> str:
    """Only the Latin words of `text` replaced by their readings (numbers untouched)."""
    lexicon = lexicon_with(overrides)
    return re.sub(_WORD, lambda m: _say_word(m.group(), lexicon, []), text)


def _say_word(word: str, lexicon: dict[str, str], warnings: list[str]) -> str:
    key = word.lower()
    if key in lexicon:
        return lexicon[key]
    # a known word with a number attached: MobileNetV3, float64, CIFAR-100
    m = re.fullmatch(r"(.*?[A-Za-z])-?(\d+)", word)
    if m and m.group(1).lower() in lexicon:
        return lexicon[m.group(1).lower()] + read_integer(m.group(2))
    # dotted or hyphenated names: read each part
    parts = re.split(r"([.\-])", word)
    if len(parts) > 1:
        return "".join({".": "点", "-": ""}.get(p, "") if p in ".-" else _say_word(p, lexicon, warnings)
                       for p in parts if p)
    if word.isupper() and len(word) <= 6 or len(word) == 1:
        return spell(word)
    warnings.append(f"'{word}' is not in the pronunciation lexicon; it is spelled out letter by letter. "
                    f"Add `pronounce: {{{word}: <reading in Chinese characters>}}` to the episode to fix it")
    return spell(word)


def to_spoken(text: str, overrides: dict[str, str] | None = None) -> Spoken:
    """The spoken form of one written line, plus warnings for words guessed."""
    lexicon = lexicon_with(overrides)
    warnings: list[str] = []
    previous_word = ""

    def say(m: re.Match) -> str:
        nonlocal previous_word
        if m.group("date"):
            y, mo, d = m.group("date").split("-")
            return f"{read_digits(y)}年{read_integer(mo)}月{read_integer(d)}日"
        if m.group("version"):
            parts = m.group("version").split(".")
            return "点".join(read_digits(p) if i else read_integer(p) for i, p in enumerate(parts))
        if m.group("frac"):
            return read_number(m.group("den")) + "分之一"
        if m.group("word"):
            word = m.group("word")
            previous_word = word.lower()
            return _say_word(word, lexicon, warnings)
        num, unit, sign = m.group("num"), m.group("unit") or "", m.group("sign") or ""
        after_version_name = previous_word in VERSIONED and "." in num and not unit
        previous_word = ""
        if after_version_name:   # TF 2.21 → 二点二一
            whole, _, frac = num.partition(".")
            said = read_integer(whole) + "点" + read_digits(frac)
        elif re.fullmatch(r"\d{4}", num) and m.string[m.end():m.end() + 1] == "年":
            said = read_digits(num)   # 2026年
        else:
            said = read_number(num)
        sign_word = {"-": "负", "−": "负", "+": "正", "±": "正负"}.get(sign, "")
        if unit == "%":
            return f"{sign_word}百分之{said}"
        return sign_word + said + UNITS.get(unit, "")

    out = _TOKEN.sub(say, text)
    out = re.sub(r"(?<=[\u4e00-\u9fff])\s+|\s+(?=[\u4e00-\u9fff])", "", out)
    return Spoken(out, warnings)
