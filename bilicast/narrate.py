"""Narrate stage: one 48 kHz stereo WAV per narration line, from the creator's
recorded takes or a text-to-speech backend, cached by content. Their lengths
time the episode.

TTS backends are the modules of bilicast/voices/ (and of a workspace's
voices/): see bilicast/voices/__init__.py.
"""
from __future__ import annotations

import sys
import wave
from dataclasses import dataclass
from pathlib import Path

from .cache import Cache, Target, atomic_path, file_hash, usable
from .codehash import code_components
from .errors import UserError
from .lifeline import fault
from .media import AUDIO_RATE, run_ffmpeg
from . import voices
from .script import Script
from .workspace import ENGINE
from .spoken import to_spoken


@dataclass(frozen=True)
class LineAudio:
    path: Path
    seconds: float


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def usable_wav(path: Path) -> bool:
    """A cached WAV counts only if it reads back (else it is a miss, with a warning)."""
    return usable(path, lambda p: wav_seconds(p) > 0)


TAKE_LOUDNESS = -20.0   # LUFS a cleaned take is brought to before the episode mix (which ends at -14)


def _to_48k_stereo(source: Path, target: Path, start: float = 0.0, end: float | None = None,
                   filters: str | None = None) -> None:
    """Resample any take to 48 kHz stereo 16-bit WAV (optionally a time slice,
    optionally through ffmpeg audio filters)."""
    cut = ["-ss", f"{start:.3f}"] + (["-to", f"{end:.3f}"] if end is not None else [])
    af = ["-af", filters] if filters else []
    with atomic_path(target) as tmp:
        run_ffmpeg([*cut, "-i", str(source), *af, "-ar", str(AUDIO_RATE), "-ac", "2", "-c:a", "pcm_s16le",
                    "-f", "wav", str(tmp)], f"converting {source.name} to 48 kHz")


def line_mode(script: Script, seg) -> str:
    return seg.voice or script.episode.voice.mode


def from_episode_take(script: Script, seg) -> bool:
    """A recorded segment without a take of its own takes its lines from the episode take."""
    return not seg.audio and bool(script.episode.voice.take) and line_mode(script, seg) == "recorded"


@dataclass
class Take:
    """One recording that holds several lines, found in it by the recognizer."""
    file: str
    clean: bool
    lines: list[tuple[int, int]]      # (segment index, line index)
    optional: set[int]                # positions in `lines` re-recorded on their own

    def keyed_lines(self, script: Script) -> list[tuple[str, str]]:
        return [(f"{script.segments[i].id}#{j + 1}", script.segments[i].narration[j].text) for i, j in self.lines]


def takes_to_align(script: Script) -> list[Take]:
    """Segment takes without hand-written `starts`, and the episode take with
    the lines of every recorded segment that has no take of its own."""
    takes, episode_lines = [], []
    for i, seg in enumerate(script.segments):
        lines = [(i, j) for j in range(len(seg.narration))]
        if seg.audio and seg.audio.starts is None:
            takes.append(Take(seg.audio.file, seg.audio.clean, lines,
                              {k for k, (_, j) in enumerate(lines) if seg.narration[j].audio}))
        elif from_episode_take(script, seg):
            episode_lines += lines
    if episode_lines and script.episode.voice.take:   # lines from the episode take only when it has one
        takes.append(Take(script.episode.voice.take, script.episode.voice.clean, episode_lines,
                          {k for k, (i, j) in enumerate(episode_lines) if script.segments[i].narration[j].audio}))
    return takes


def align_takes(script: Script, base: Path, cache: Cache, on_take=None,
                dry: bool = False) -> dict[tuple[int, int], tuple]:
    """(segment, line) -> (take path, start, end, clean) for every line found
    in a take. A line that can't be found is bad input (exit 2), named.
    dry: only takes aligned before (a plan writes and computes nothing)."""
    from . import align
    spans = {}
    for take in takes_to_align(script):
        path = base / take.file
        lines = take.keyed_lines(script)
        result, reused = align.align_take(path, lines, cache, script.episode.pronounce, take.clean, take.optional,
                                          dry=dry)
        if result is None:
            continue
        if on_take:
            on_take(take, result, reused)
        missing = [x for k, x in enumerate(result.lines) if not x.found and k not in take.optional]
        if missing:
            named = "; ".join(f"{x.key} 「{x.text}」" for x in missing)
            raise UserError(f"{take.file}: cannot find {len(missing)} line(s) in the take: {named}. "
                            f"`bilicast align SCRIPT` shows what the recognizer heard; re-record the line, "
                            f"or give it its own take ({{text: …, audio: takes/x.wav}})")
        for (i, j), x in zip(take.lines, result.lines):
            if x.found and not script.segments[i].narration[j].audio:
                spans[(i, j)] = (path, x.start, x.end, take.clean)
    return spans


_loudness: dict[str, float] = {}


def _clean_filters(source: Path) -> str:
    """Clean-up filters plus the gain that brings this take to TAKE_LOUDNESS."""
    from .align import CLEAN_FILTERS
    from .media import loudness
    key = file_hash(source)
    if key not in _loudness:   # measured as it will sound: cleaned, in stereo
        _loudness[key] = loudness(source, f"{CLEAN_FILTERS},aformat=channel_layouts=stereo")[0]
    measured = _loudness[key]
    gain = TAKE_LOUDNESS - measured if measured > -70 else 0.0
    return f"{CLEAN_FILTERS},volume={gain:.2f}dB"


def _speech_bounds(source: Path) -> tuple[float, float | None]:
    """Where speech starts and ends in a single-line take (for trimming)."""
    from .align import LEAD, TAIL, silences
    from .listen import RATE, read_audio
    audio = read_audio(source)
    pauses, duration = silences(audio, RATE), len(audio) / RATE
    start = pauses[0][1] if pauses and pauses[0][0] == 0 else 0.0
    end = pauses[-1][0] if pauses and pauses[-1][1] >= duration - 0.01 else duration
    return max(0.0, start - LEAD), min(duration, end + TAIL)


def prepare(script: Script, base: Path, cache: Cache, progress=None, on_take=None,
            dry: bool = False, targets: list[Target] | None = None) -> dict[tuple[int, int], LineAudio]:
    """Audio for every voiced line, keyed by (segment index, line index).
    `base` is the folder recorded takes are relative to. dry: only the audio
    already in the cache; nothing is synthesized, cut or written (`plan`).
    targets: a list to append each line's cache target to (voice lines and
    takes whose key can be known; a dry run's too)."""
    voice = script.episode.voice
    spans = align_takes(script, base, cache, on_take, dry)
    out = {}
    backend = None
    for i, seg in enumerate(script.segments):
        mode = line_mode(script, seg)
        for j, line in enumerate(seg.narration):
            if progress:
                progress()
            if line.audio or seg.audio or (i, j) in spans:
                clean = False
                if line.audio:   # one take per line (also a retake inside a longer take)
                    source, start, end, clean = base / line.audio, 0.0, None, line.clean
                elif (i, j) in spans:   # found in a segment or episode take
                    source, start, end, clean = spans[(i, j)]
                elif not (seg.audio and seg.audio.starts):   # dry: its take not aligned yet
                    continue
                else:            # one take for the segment, cut at the hand-written line starts
                    starts = seg.audio.starts
                    source, start, end = base / seg.audio.file, starts[j], (starts[j + 1] if j + 1 < len(starts)
                                                                            else None)
                made = cache.target("take", "takes", f"{seg.id}-{j}",
                                    {"take": file_hash(source), "start": start, "end": end, "clean": clean,
                                     "loudness": TAKE_LOUDNESS if clean else None}, "wav", name=f"{seg.id}#{j + 1}")
                path = made.path
                if targets is not None:
                    targets.append(made)
                if not usable_wav(path):
                    if dry:
                        continue
                    if clean and line.audio:
                        start, end = _speech_bounds(source)
                    _to_48k_stereo(source, path, start, end, _clean_filters(source) if clean else None)
                    cache.remember(made)
            elif mode == "tts":
                if backend is None:
                    backend = voices.get(voice.backend, base)()
                    backend_version = backend.version()
                spoken = to_spoken(line.text, script.episode.pronounce)
                for warning in spoken.warnings:
                    print(f"warning: segment {seg.id}, line {j + 1}: {warning}", file=sys.stderr)
                settings = voice.model_dump(exclude={"mode"})
                made = cache.target("voice line", "tts", f"{seg.id}-{j}",
                                    {"spoken": spoken.text, "voice": settings,
                                     "backend": [voice.backend, backend_version],
                                     "frontend": code_components(ENGINE / "spoken.py")}, "wav", name=f"{seg.id}#{j + 1}")
                path = made.path
                if targets is not None:
                    targets.append(made)
                if not usable_wav(path):
                    if dry:
                        continue
                    raw = path.with_suffix(".raw.wav")
                    raw.parent.mkdir(parents=True, exist_ok=True)
                    backend.synthesize(spoken.text, voice, raw)
                    fault("tts")
                    try:
                        _to_48k_stereo(raw, path)
                    finally:
                        raw.unlink(missing_ok=True)
                    cache.remember(made)
            else:
                continue
            out[(i, j)] = LineAudio(path, wav_seconds(path))
    return out
