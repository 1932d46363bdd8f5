"""Narrate stage: one 48 kHz stereo WAV per narration line, from the creator's
recorded takes or a text-to-speech backend, cached by content. Their lengths
time the episode.

TTS backends are plug-ins: subclass TTSBackend, give it a `name`, implement
`version()` and `synthesize()`, and add it to BACKENDS (import heavy or
networked engines inside synthesize(), failing with the install command).
"""
from __future__ import annotations

import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

from .cache import Cache, atomic_path, digest, file_hash, usable
from .errors import StageError, UserError
from .media import AUDIO_RATE, run_ffmpeg
from .script import Script


class TTSBackend:
    name = ""

    def version(self) -> str:
        raise NotImplementedError

    def synthesize(self, text: str, voice, target: Path) -> None:
        """Write speech for `text` to `target` (any format ffmpeg reads)."""
        raise NotImplementedError


class EspeakBackend(TTSBackend):
    """espeak-ng, offline, installed by setup: a robotic but instant scratch voice."""
    name = "espeak"

    def _exe(self) -> str:
        exe = shutil.which("espeak-ng")
        if not exe:
            raise StageError("espeak-ng not found", "install it with `apt-get install espeak-ng` (make setup does)")
        return exe

    def version(self) -> str:
        return subprocess.run([self._exe(), "--version"], capture_output=True, text=True).stdout.strip()

    def synthesize(self, text, voice, target):
        proc = subprocess.run([self._exe(), "-v", voice.voice, "-s", str(voice.speed), "-p", str(voice.pitch),
                               "-w", str(target), text], capture_output=True, text=True)
        if proc.returncode != 0 or not Path(target).exists():
            raise StageError(f"espeak-ng failed for {text!r}", proc.stderr.strip() + "\nhint: `espeak-ng --voices` "
                             "lists the voices; Mandarin is `cmn`")


BACKENDS: dict[str, type[TTSBackend]] = {EspeakBackend.name: EspeakBackend}


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


def _to_48k_stereo(source: Path, target: Path, start: float = 0.0, end: float | None = None) -> None:
    """Resample any take to 48 kHz stereo 16-bit WAV (optionally a time slice)."""
    cut = ["-ss", f"{start:.3f}"] + (["-to", f"{end:.3f}"] if end is not None else [])
    with atomic_path(target) as tmp:
        run_ffmpeg([*cut, "-i", str(source), "-ar", str(AUDIO_RATE), "-ac", "2", "-c:a", "pcm_s16le",
                    "-f", "wav", str(tmp)], f"converting {source.name} to 48 kHz")


def line_mode(script: Script, seg) -> str:
    return seg.voice or script.episode.voice.mode


def prepare(script: Script, base: Path, cache: Cache, progress=None) -> dict[tuple[int, int], LineAudio]:
    """Audio for every voiced line, keyed by (segment index, line index).
    `base` is the folder recorded takes are relative to."""
    voice = script.episode.voice
    out = {}
    backend = None
    for i, seg in enumerate(script.segments):
        mode = line_mode(script, seg)
        for j, line in enumerate(seg.narration):
            if progress:
                progress()
            if line.audio or seg.audio:
                if line.audio:   # one take per line
                    source, start, end = base / line.audio, 0.0, None
                else:            # one take for the segment, cut at the line starts
                    starts = seg.audio.starts
                    source, start, end = base / seg.audio.file, starts[j], (starts[j + 1] if j + 1 < len(starts)
                                                                            else None)
                key = digest({"take": file_hash(source), "start": start, "end": end})
                path = cache.entry("takes", f"{seg.id}-{j}", key, "wav")
                if not usable_wav(path):
                    _to_48k_stereo(source, path, start, end)
            elif mode == "tts":
                if backend is None:
                    if voice.backend not in BACKENDS:
                        raise UserError(f"unknown TTS backend '{voice.backend}'; available: {', '.join(BACKENDS)}")
                    backend = BACKENDS[voice.backend]()
                    backend_version = backend.version()
                key = digest({"text": line.text, "voice": voice.model_dump(), "backend": backend_version})
                path = cache.entry("tts", f"{seg.id}-{j}", key, "wav")
                if not usable_wav(path):
                    raw = path.with_suffix(".raw.wav")
                    raw.parent.mkdir(parents=True, exist_ok=True)
                    backend.synthesize(line.text, voice, raw)
                    try:
                        _to_48k_stereo(raw, path)
                    finally:
                        raw.unlink(missing_ok=True)
            else:
                continue
            out[(i, j)] = LineAudio(path, wav_seconds(path))
    return out
