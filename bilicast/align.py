"""Align stage: find each narration line in one recorded take.

The offline recognizer (bilicast/listen.py) transcribes the take with word
timestamps; every heard character becomes a toneless syllable with a time.
Each script line (its spoken form, as syllables) is looked up in that
syllable stream with a free-start, free-end edit-distance alignment, so
homophones and the recognizer's spelling choices still match. One occurrence
per line is then chosen in script order (a line said twice: the last good
one), and each cut is moved into the pause between lines found by an energy
detector, which is far more precise than the recognizer's timestamps.

What it found is cached in .cache/align/ by the take's content hash and the
lines' spoken forms, so `bilicast align` and render share it.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from collections.abc import Set
from pathlib import Path
from typing import Literal, overload

import numpy as np

from .cache import Cache, digest, file_hash, write_text_atomic
from .spoken import to_spoken

ALIGN_VERSION = "1"
FRAME = 0.01            # energy detector hop, seconds
GOOD = 0.75             # share of a line's syllables heard right for a clean read
FOUND = 0.40            # below this share the line is not in the take
LEAD, TAIL = 0.06, 0.12 # seconds kept before a line's first and after its last sound


@dataclass
class Token:
    syllable: str
    char: str
    start: float
    end: float


@dataclass
class Occurrence:
    first: int          # token indices, inclusive
    last: int
    errors: int

    def quality(self, length: int) -> float:
        return 1.0 - self.errors / max(length, 1)


@dataclass
class LineFound:
    key: str            # "segment#line" (1-based line), for the report
    text: str
    start: float | None = None
    end: float | None = None
    score: float = 0.0
    heard: str = ""
    flags: list[str] = field(default_factory=list)   # misread, said twice, not found

    @property
    def found(self) -> bool:
        return self.start is not None


@dataclass
class Alignment:
    lines: list[LineFound]
    extra: list[dict]   # speech in the take that matches no line: {start, end, heard}
    duration: float

    def to_json(self) -> str:
        return json.dumps({"lines": [asdict(x) for x in self.lines], "extra": self.extra,
                           "duration": self.duration}, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Alignment":
        data = json.loads(text)
        return cls([LineFound(**x) for x in data["lines"]], data["extra"], data["duration"])


# --- the heard syllable stream ---------------------------------------------

def syllables_of(text: str, pronounce=None) -> list[tuple[str, str]]:
    """(syllable, character) pairs of what `text` says: simplified, spoken form
    (numbers and Latin terms read out), Chinese characters only."""
    from .listen import simplified, sounds
    chars = "".join(re.findall(r"[\u4e00-\u9fff]", to_spoken(simplified(text), pronounce).text))
    return list(zip(sounds(chars), chars))


def heard_tokens(segments, pronounce=None) -> list[Token]:
    """Recognizer words → one timed token per heard syllable. Each character
    gets its share of its word's span; a run of digits, signs and Latin
    letters (whisper splits "96.7%" into several words) is read as a whole
    and its syllables share the run's span."""
    from .listen import simplified
    text, times = "", []
    for seg in segments:
        for word in seg.words or []:
            w = simplified(word.word)
            step = (word.end - word.start) / max(len(w), 1)
            times += [(word.start + k * step, word.start + (k + 1) * step) for k in range(len(w))]
            text += w
    tokens = []
    for m in re.finditer(r"[\u4e00-\u9fff]|[^\u4e00-\u9fff]+", text):
        pairs = syllables_of(m.group(), pronounce)
        if not pairs:
            continue
        start, end = times[m.start()][0], times[m.end() - 1][1]
        step = (end - start) / len(pairs)
        tokens += [Token(syl, char, start + k * step, start + (k + 1) * step) for k, (syl, char) in enumerate(pairs)]
    return tokens


# --- finding a line in the stream --------------------------------------------

def occurrences(line: list[str], heard: list[str], limit: float = FOUND) -> list[Occurrence]:
    """Every place `line` appears in `heard` with at most (1 - limit) of its
    syllables wrong: free-start, free-end edit distance, non-overlapping."""
    m, n = len(line), len(heard)
    if m == 0 or n == 0:
        return []
    heard_arr = np.array(heard, dtype=object)
    # D[i, j]: edits to align line[:i] with heard ending at j; start[i, j]: where it began
    prev = np.zeros(n + 1, dtype=np.int32)
    start_prev = np.arange(n + 1, dtype=np.int32)
    for i in range(1, m + 1):
        cur = np.empty(n + 1, dtype=np.int32)
        start_cur = np.empty(n + 1, dtype=np.int32)
        cur[0], start_cur[0] = i, 0
        sub = prev[:-1] + (heard_arr != line[i - 1])
        dele = prev[1:] + 1                       # line syllable not heard
        for j in range(1, n + 1):                 # insertion (extra heard syllable) depends on cur[j-1]
            best, origin = sub[j - 1], start_prev[j - 1]
            if dele[j - 1] < best:
                best, origin = dele[j - 1], start_prev[j]
            if cur[j - 1] + 1 < best:
                best, origin = cur[j - 1] + 1, start_cur[j - 1]
            cur[j], start_cur[j] = best, origin
        prev, start_prev = cur, start_cur
    allowed = int((1 - limit) * m)
    found: list[Occurrence] = []
    order = sorted(range(1, n + 1), key=lambda j: (prev[j], -j))
    for j in order:
        if prev[j] > allowed:
            break
        first, last = int(start_prev[j]), j - 1
        if first > last or any(not (last < o.first or first > o.last) for o in found):
            continue
        found.append(Occurrence(first, last, int(prev[j])))
    return sorted(found, key=lambda o: o.first)


def choose(candidates: list[list[Occurrence]], lengths: list[int]) -> list[Occurrence | None]:
    """One occurrence (or none) per line, in script order, not overlapping,
    matching as many syllables as possible; among equal choices the later
    occurrence wins (a retake inside the take replaces the first try)."""
    options = [(i, o) for i, occ in enumerate(candidates) for o in occ]
    options.sort(key=lambda x: (x[1].last, x[0]))
    # best[k]: (score, chain) of the best chain ending with option k
    best: list[tuple[float, list[int]]] = []
    for k, (i, o) in enumerate(options):
        gain = lengths[i] - o.errors + 1e-4 * o.first
        score, chain = gain, [k]
        for p in range(k):
            pi, po = options[p]
            if pi < i and po.last < o.first and best[p][0] + gain > score:
                score, chain = best[p][0] + gain, best[p][1] + [k]
        best.append((score, chain))
    chosen: list[Occurrence | None] = [None] * len(candidates)
    if best:
        for k in max(best, key=lambda b: b[0])[1]:
            i, o = options[k]
            chosen[i] = o
    return chosen


# --- pauses ---------------------------------------------------------------

def silences(audio: np.ndarray, rate: int, min_gap: float = 0.12) -> list[tuple[float, float]]:
    """Pauses in the take: stretches of at least `min_gap` s whose energy stays
    near the noise floor (estimated from the quietest frames)."""
    hop = int(FRAME * rate)
    frames = len(audio) // hop
    if frames == 0:
        return []
    power = (audio[:frames * hop].reshape(frames, hop).astype(np.float64) ** 2).mean(axis=1)
    db = 10 * np.log10(power + 1e-12)
    floor, loud = np.percentile(db, 10), np.percentile(db, 95)
    quiet = db < floor + max(6.0, 0.25 * (loud - floor))
    # a single loud frame inside a pause (a click) doesn't end it
    quiet[1:-1] |= quiet[:-2] & quiet[2:]
    out, k = [], 0
    while k < frames:
        if not quiet[k]:
            k += 1
            continue
        e = k
        while e < frames and quiet[e]:
            e += 1
        if (e - k) * FRAME >= min_gap or k == 0 or e == frames:
            out.append((k * FRAME, e * FRAME))
        k = e
    return out


def _longest_pause(pauses, lo: float, hi: float):
    """The pause overlapping [lo, hi] the most, whole (the recognizer's
    estimate may fall inside the pause, but speech starts where it ends)."""
    overlapping = [(a, b) for a, b in pauses if b > lo and a < hi]
    return max(overlapping, key=lambda p: min(p[1], hi) - max(p[0], lo), default=None)


# --- the whole stage ----------------------------------------------------------

def align(audio: np.ndarray, rate: int, lines: list[tuple[str, str]], recognizer, pronounce=None,
          optional: Set[int] = frozenset()) -> Alignment:
    """Find each (key, text) line in `audio`. Lines in `optional` (re-recorded
    elsewhere) may be missing without a flag."""
    from .listen import simplified
    _, segments = recognizer.transcribe(audio, word_timestamps=True)
    tokens = heard_tokens(segments, pronounce)
    heard = [t.syllable for t in tokens]
    refs = [[s for s, _ in syllables_of(text, pronounce)] for _, text in lines]
    candidates = [occurrences(ref, heard) for ref in refs]
    chosen = choose(candidates, [len(r) for r in refs])
    duration = len(audio) / rate
    pauses = silences(audio, rate)
    found = [LineFound(key, text) for key, text in lines]
    times = []
    for i, occ in enumerate(chosen):
        if occ is None:
            if i not in optional:
                found[i].flags.append("not found")
            continue
        line = found[i]
        line.score = round(occ.quality(len(refs[i])), 3)
        line.heard = simplified("".join(t.char for t in tokens[occ.first:occ.last + 1]))
        if line.score < GOOD:
            line.flags.append("misread")
        good = [o for o in candidates[i] if o.quality(len(refs[i])) >= GOOD]
        if len(good) > 1:   # the last reading wins unless script order rules it out
            which = "the last" if occ.first >= good[-1].first else f"the one at {tokens[occ.first].start:.1f} s"
            line.flags.append(f"said {len(good)} times; using {which}")
        # the neighbours are whatever was heard just before and after (a line or not)
        prev_end = tokens[occ.first - 1].end if occ.first else 0.0
        next_start = tokens[occ.last + 1].start if occ.last + 1 < len(tokens) else duration
        times.append((i, tokens[occ.first].start, tokens[occ.last].end, prev_end, next_start))
    # move each cut into the pause between this line and its neighbours
    for i, start, end, prev_end, next_start in times:
        before = _longest_pause(pauses, max(prev_end - 0.3, 0.0), min(start + 0.4, end))
        after = _longest_pause(pauses, max(end - 0.4, start), min(next_start + 0.3, duration))
        s = before[1] if before else start
        e = after[0] if after else end
        found[i].start = round(max(0.0, s - LEAD), 3)
        found[i].end = round(min(duration, max(e, s + 0.2) + TAIL), 3)
    used = [False] * len(tokens)   # earlier readings of a repeated line are script too
    for i, occ in enumerate(chosen):
        for o in ([occ] if occ else []) + [o for o in candidates[i] if o.quality(len(refs[i])) >= GOOD]:
            used[o.first:o.last + 1] = [True] * (o.last - o.first + 1)
    extra, k = [], 0
    while k < len(tokens):   # unused runs of 4+ syllables: said, but not in the script
        if used[k]:
            k += 1
            continue
        e = k
        while e < len(tokens) and not used[e]:
            e += 1
        inside = sum(max(0.0, min(b, tokens[e - 1].end) - max(a, tokens[k].start)) for a, b in pauses)
        # whisper invents text ("请您订阅") in long silences: a run heard mostly in a pause is not speech
        if e - k >= 4 and inside < 0.5 * (tokens[e - 1].end - tokens[k].start):
            extra.append({"start": round(tokens[k].start, 2), "end": round(tokens[e - 1].end, 2),
                          "heard": simplified("".join(t.char for t in tokens[k:e]))})
        k = e
    return Alignment(found, extra, round(duration, 3))


def take_key(take: Path, lines: list[tuple[str, str]], pronounce, clean: bool) -> str:
    return digest({"take": file_hash(take), "lines": [to_spoken(t, pronounce).text for _, t in lines],
                   "version": ALIGN_VERSION, "clean": clean})


@overload
def align_take(take: Path, lines: list[tuple[str, str]], cache: Cache, pronounce=None, clean: bool = False,
               optional: Set[int] = frozenset(), dry: Literal[False] = False) -> tuple[Alignment, bool]: ...
@overload
def align_take(take: Path, lines: list[tuple[str, str]], cache: Cache, pronounce=None, clean: bool = False,
               optional: Set[int] = frozenset(), dry: bool = False) -> tuple[Alignment | None, bool]: ...
def align_take(take: Path, lines: list[tuple[str, str]], cache: Cache, pronounce=None, clean: bool = False,
               optional: Set[int] = frozenset(), dry: bool = False) -> tuple[Alignment | None, bool]:
    """The alignment of `take`, from the cache when the take and lines are
    unchanged. Returns (alignment, reused); (None, False) when `dry` and it
    was never aligned."""
    from .listen import RATE, read_audio, shared_recognizer
    path = cache.entry("align", take.stem, take_key(take, lines, pronounce, clean), "json")
    if path.exists():
        try:
            return Alignment.from_json(path.read_text("utf-8")), True
        except (ValueError, KeyError, TypeError):
            pass
    if dry:
        return None, False
    audio = read_audio(take, filters=CLEAN_FILTERS if clean else None)
    result = align(audio, RATE, lines, shared_recognizer(), pronounce, optional)
    write_text_atomic(path, result.to_json())
    return result, False


# ffmpeg filters for `clean: true`: rumble and hum off (24 dB/octave below 80 Hz),
# steady noise down, clicks out
CLEAN_FILTERS = "highpass=f=80,highpass=f=80,afftdn=nf=-25,adeclick"


def report(result: Alignment, take: str | Path) -> str:
    rows = [f"{take}: {result.duration:.1f} s"]
    width = max((len(x.key) for x in result.lines), default=4)
    for x in result.lines:
        when = f"{x.start:7.2f}–{x.end:7.2f}" if x.found else " " * 7 + "–" + " " * 7
        flags = f"  [{', '.join(x.flags)}]" if x.flags else ""
        rows.append(f"{x.key:<{width}}  {when}  match {x.score:.2f}  {x.text}{flags}")
        if x.found and (x.score < 1.0):
            rows.append(f"{'':<{width}}  {'':15}  heard: {x.heard}")
    for e in result.extra:
        rows.append(f"{'?':<{width}}  {e['start']:7.2f}–{e['end']:7.2f}  not in the script: {e['heard']}")
    return "\n".join(rows)
