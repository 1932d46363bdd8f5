"""Subtitle cues from the timeline, Chinese-aware line breaking, SRT, ASS and
BCC output; English cues from the lines' `en:` (wrapped by words) and
bilingual cues, Chinese over English (docs/subtitles.md)."""
from __future__ import annotations

import functools
import json
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # annotations only: subtitles don't depend on the script model
    from .timeline import SegmentTiming

# Atoms a line break must never split: a Latin word or number together with its
# unit (80MB, 3.5 ms, 95%, CIFAR-10, @tf.function, 12毫秒); else one character.
_UNITS = r"(?:\s?(?:(?:ms|MB|KB|GB|fps|FPS|s|x)(?![A-Za-z])|毫秒|秒|帧|倍|兆|个|层|张|次|轮|分钟|小时|%|×))"
_ATOM = re.compile(rf"[−+±-]?[@#]?[A-Za-z0-9_][A-Za-z0-9_.\-+/:%]*{_UNITS}?|\s+|.", re.S)
_BREAK_AFTER = set("，。！？；：、,.!?;:）)」』”")
_NO_LINE_START = set("，。！？；：、,.!?;:）)」』”%")
_NO_LINE_END = set("（(「『“")   # an opening bracket goes down with what it opens
_TRAILING = "，。；、,;"


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]
    en: tuple[str, ...] = ()   # a bilingual cue's English lines, burned under the Chinese ones


# English lines (the lines' `en:`): wrapped by words, at most EN_CHARS Latin
# characters (a common subtitle limit), fewer where the burned English line
# would not fit the width. Burned in a bilingual cue at EN_SCALE of the Chinese
# size: 0.75 keeps a full-width character 28 px tall at 1080p (legible: >= 26).
EN_SCALE = 0.75
EN_CHARS = 42
EN_LANG = "en-US"   # the English files' language, as Bilibili's subtitle languages name it
EN_FILES = {"srt": "subtitles.en.srt", "bcc": "subtitles.en.bcc.json"}   # in a bundle whose lines have `en:`
_LATIN_EM = 0.6   # a Latin character's advance per unit of ASS font size, generous (text averages ~0.45)


def width(text: str) -> float:
    """Display width in full-width characters (a Latin letter is half)."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.5 for ch in text)


def wrap(text: str, max_chars: int) -> list[str]:
    """Break text into lines of at most max_chars full-width characters,
    preferring breaks after punctuation, never inside a word (Chinese words
    found by jieba) or number+unit, and without a one- or two-character last line."""
    return _wrap(text, max_chars, balance=True)


def wrap_greedy(text: str, max_chars: int) -> list[str]:
    return _wrap(text, max_chars, balance=False)


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


# Terms of the field jieba's general dictionary splits (缩放到 -> 缩 / 放到).
TERMS = ("缩放", "双线性", "最近邻", "插值", "量化", "反量化", "张量", "卷积", "权重", "推理", "热启动", "重训",
         "置信区间", "混淆矩阵", "准确率", "预处理", "计算图", "过拟合", "学习率", "漂移", "训练集", "测试集", "验证集")


@functools.lru_cache(maxsize=1)
def _segmenter():
    import jieba
    jieba.setLogLevel(logging.WARNING)   # no "Building prefix dict" chatter
    for term in TERMS:
        jieba.add_word(term, freq=100000)   # common enough to win against a split
    return jieba


def atoms(text: str) -> list[str]:
    """The pieces a line may break between: Chinese words (from the jieba
    segmenter, so 函数 never splits into 函 / 数), a Latin word or number with
    its unit, whitespace, punctuation."""
    out: list[str] = []
    run: list[str] = []

    def flush():
        if run:
            out.extend(_segmenter().lcut("".join(run), HMM=True))
            run.clear()

    for atom in _ATOM.findall(text):
        if len(atom) == 1 and _CJK.match(atom):
            run.append(atom)
        else:
            flush()
            out.append(atom)
    flush()
    return out


def _wrap(text: str, max_chars: int, balance: bool) -> list[str]:
    if width(text.strip()) <= max_chars:   # one line: no breaks to find (nor jieba's dictionary to load)
        return [text.strip()] if text.strip() else []
    # a "word" wider than a whole line is split into characters
    atoms_ = [piece for atom in atoms(text.strip())
              for piece in (list(atom) if width(atom) > max_chars and _CJK.match(atom) else [atom])]
    lines: list[str] = []
    current: list[str] = []
    last_break = None
    for atom in atoms_:
        if width("".join(current) + atom.rstrip()) > max_chars and current:
            if last_break and last_break < len(current) and width("".join(current[:last_break])) >= max_chars * 0.5:
                cut = last_break
            elif atom[0] in _NO_LINE_START:
                cut = len(current) - 1   # carry the last atom over so punctuation doesn't start a line
            else:
                cut = len(current)
            while cut > 1 and current[cut - 1] in _NO_LINE_END:
                cut -= 1
            if cut > 0:
                lines.append("".join(current[:cut]))
                current = current[cut:]
            last_break = None
            while current and current[0].isspace():
                current.pop(0)
            if atom.isspace() and not current:
                continue
        current.append(atom)
        if atom[-1] in _BREAK_AFTER or atom.isspace():
            last_break = len(current)
    if current:
        lines.append("".join(current))
    lines = [ln.strip() for ln in lines if ln.strip()]
    if not balance:
        return lines
    # No widows: a last line of a character or two reads badly; even the lines out.
    if len(lines) > 1 and width(lines[-1]) < max_chars * 0.3:
        even = max_chars
        while even > max_chars // 2:
            even -= 1
            shorter = wrap_greedy(text, even)
            if len(shorter) != len(lines):
                break
            if width(shorter[-1]) >= max_chars * 0.3:
                return shorter
    return lines


def _tidy(line: str) -> str:
    return line.rstrip(_TRAILING) or line


def _timed(start: float, end: float, groups: list[list[str]], tidy=_tidy) -> list[Cue]:
    """Cues for one narration line's groups of lines, its span shared by their length."""
    cues = []
    total = sum(width("".join(g)) for g in groups) or 1
    t, span = start, end - start
    for g in groups:
        share = span * width("".join(g)) / total
        # centiseconds: the finest step all three formats (SRT, ASS, BCC) share
        cues.append(Cue(round(t, 2), round(t + share, 2), tuple(tidy(x) for x in g)))
        t += share
    return cues


def segment_cues(seg: SegmentTiming, max_chars: int, lines_per_cue: int = 2, en: Sequence[str] = (),
                 en_max: int = EN_CHARS) -> list[Cue]:
    """One segment's cues, timed from the segment's start (what is burned into
    it; a change elsewhere in the episode leaves them as they are). One cue per
    narration line; a long line becomes several cues, timed by their length.
    `en`, each line's English ("": none), makes the cues bilingual
    (bilingual_cues)."""
    cues = []
    for j, line in enumerate(seg.lines):
        english = en[j].strip() if j < len(en) else ""
        if english:
            cues += bilingual_cues(line.start, line.end, line.text, english, max_chars, en_max)
            continue
        wrapped = wrap(line.text, max_chars)
        groups = [wrapped[i:i + lines_per_cue] for i in range(0, len(wrapped), lines_per_cue)]
        cues += _timed(line.start, line.end, groups)
    return cues


def bilingual_cues(start: float, end: float, text: str, english: str, max_chars: int, en_max: int) -> list[Cue]:
    """A narration line as bilingual cues: one Chinese line over one English
    line in each (what the subtitle band holds). The Chinese is wrapped
    narrower until it has as many lines as the English, so each Chinese piece
    comes with about its share of the English. Where one language still has
    fewer lines, its line stays up across the cues that share its part of the
    narration line (a short English sentence is read whole, not re-cut to
    follow the Chinese word order). The cues are timed by the longer-wrapped
    language's lines, over the line's time."""
    en_lines = wrap_words(english, en_max)
    zh, w = wrap(text, max_chars), max_chars
    while len(zh) < len(en_lines) and w > 4:
        w -= 1
        zh = wrap(text, w)
    lead = zh if len(zh) >= len(en_lines) else en_lines
    sizes = [width(x) for x in lead]
    total = sum(sizes) or 1

    def share_of(lines: list[str], middle: float) -> str:   # the line whose part of the whole `middle` falls in
        return lines[min(len(lines) - 1, int(middle * len(lines)))]

    cues, t, done = [], start, 0.0
    for x, size in zip(lead, sizes):
        span = (end - start) * size / total
        middle = (done + size / 2) / total
        zh_line, en_line = (x, share_of(en_lines, middle)) if lead is zh else (share_of(zh, middle), x)
        cues.append(Cue(round(t, 2), round(t + span, 2), (_tidy(zh_line),), (en_line,)))
        t, done = t + span, done + size
    return cues


def build_cues(timeline: list[SegmentTiming], max_chars: int, lines_per_cue: int = 2,
               en: Sequence[Sequence[str]] = (), en_max: int = EN_CHARS) -> list[Cue]:
    """The episode's cues on its own clock (`en`: each segment's lines' English, for bilingual cues)."""
    return [Cue(round(seg.start + c.start, 2), round(seg.start + c.end, 2), c.lines, c.en)
            for i, seg in enumerate(timeline)
            for c in segment_cues(seg, max_chars, lines_per_cue, en[i] if i < len(en) else (), en_max)]


def en_chars(w: int, h: int) -> int:
    """Latin characters per English line in a video this size: EN_CHARS, or
    fewer where the line, burned at EN_SCALE of the Chinese size (5.8 % of the
    short side, templates/subtitles.ass.j2), would not fit across (the
    vertical cut: 33)."""
    fits = int(w * (1 - 2 * 0.06) / (EN_SCALE * 0.058 * min(w, h) * _LATIN_EM))
    return min(EN_CHARS, fits)


def wrap_words(text: str, max_chars: int) -> list[str]:
    """English broken between words into lines of at most max_chars Latin
    characters (a full-width one counts two), as even as the same number of
    lines allows (no one-word last line); a word longer than a line stays whole."""
    words = text.split()

    def greedy(limit: float) -> list[str]:
        lines: list[str] = []
        for word in words:
            if lines and 2 * width(lines[-1] + " " + word) <= limit:
                lines[-1] += " " + word
            else:
                lines.append(word)
        return lines

    lines = greedy(max_chars)
    limit = max_chars
    while limit > 1 and len(greedy(limit - 1)) == len(lines):   # the narrowest width with as many lines
        limit -= 1
    return greedy(limit)


def english_cues(timeline: list[SegmentTiming], en: Sequence[Sequence[str]], max_chars: int,
                 lines_per_cue: int = 2) -> list[Cue]:
    """The English subtitles (subtitles.en.*) on the episode's clock: each
    line's `en:` over the line's time, wrapped by words; lines without one
    have no cue."""
    cues = []
    for seg, english in zip(timeline, en):
        for line, text in zip(seg.lines, english):
            if text:
                wrapped = wrap_words(text, max_chars)
                groups = [wrapped[i:i + lines_per_cue] for i in range(0, len(wrapped), lines_per_cue)]
                cues += [Cue(round(seg.start + c.start, 2), round(seg.start + c.end, 2), c.lines)
                         for c in _timed(line.start, line.end, groups, tidy=str)]
    return cues


def _srt_time(t: float) -> str:
    ms = round(t * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def to_srt(cues: list[Cue]) -> str:
    blocks = [f"{i}\n{_srt_time(c.start)} --> {_srt_time(c.end)}\n" + "\n".join(c.lines)
              for i, c in enumerate(cues, 1)]
    return "\n\n".join(blocks) + "\n"


def _ass_time(t: float) -> str:
    cs = round(t * 100)
    return f"{cs // 360000}:{cs // 6000 % 60:02d}:{cs // 100 % 60:02d}.{cs % 100:02d}"


def to_ass(cues: list[Cue], size: tuple[int, int], font: str, colour: str = "#FFFFFF",
           outline: str = "#000000", workspace=None, margin: float = 0.05) -> str:
    """A styled ASS file: the header and style from templates/subtitles.ass.j2
    (CJK font, outline, bottom margin as a fraction of the height, sizes
    scaled with the video's short side), then the cues. `font` is the style's
    font spec: a workspace font file's style names the family in it (the
    burn-in gives libass the file's folder: finish.py)."""
    from . import fonts, templates
    font = fonts.family_name(font, workspace)
    w, h = size
    bilingual = any(c.en for c in cues)   # the English style only where used: the header shapes chunk keys
    header = templates.render("subtitles.ass.j2", workspace, w=w, h=h, short=min(w, h), margin=margin, font=font,
                              colour=colour, outline=outline, bilingual=bilingual, en_scale=EN_SCALE)
    # a bilingual cue is one event: the Chinese, then {\rEnglish} switches to the smaller style below it
    events = [f"Dialogue: 0,{_ass_time(c.start)},{_ass_time(c.end)},Default,,0,0,0,,"
              + r"\N".join(c.lines) + (r"\N{\rEnglish}" + r"\N".join(c.en) if c.en else "") for c in cues]
    return "\n".join([header.rstrip("\n"), "", "[Events]",
                      "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
                      *events, ""])


def segment_ass(timing: SegmentTiming, max_chars: int, font: str, workspace, size: tuple[int, int],
                margin: float, en: Sequence[str] = ()) -> str:
    """The ASS file burned into one segment ("" when it has no lines); `en`,
    each line's English, makes it bilingual."""
    cues = segment_cues(timing, max_chars, en=en, en_max=en_chars(*size))
    return to_ass(cues, size, font, workspace=workspace, margin=margin) if cues else ""


def to_bcc(cues: list[Cue], workspace=None) -> str:
    """Bilibili's BCC subtitle JSON (creator centre import/export format); its
    look from templates/bcc.json.j2."""
    from . import templates
    look = json.loads(templates.render("bcc.json.j2", workspace))
    return json.dumps({**look, "body": [{"from": c.start, "to": c.end, "location": 2, "content": "\n".join(c.lines)}
                                        for c in cues]}, ensure_ascii=False, indent=1)
