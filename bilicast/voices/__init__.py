"""Text-to-speech voices, one module each: bilicast/voices/<name>.py, or
voices/<name>.py in the workspace for a creator's own. A module defines
`Backend`, a TTSBackend subclass; the file's name is what a script's
`voice.backend` says. Import heavy or networked engines inside synthesize(),
failing with the command that installs them."""
from __future__ import annotations

from pathlib import Path

from ..registry import entries, entry


class TTSBackend:
    """A voice. `synthesize` gets the line's spoken form (bilicast/spoken.py)."""

    def version(self) -> str:
        """Changes whenever the audio for the same text could change (part of the cache key)."""
        raise NotImplementedError

    def synthesize(self, text: str, voice, target: Path) -> None:
        """Write speech for `text` to `target` (any format ffmpeg reads)."""
        raise NotImplementedError


def available(workspace: Path | None = None) -> dict[str, type[TTSBackend]]:
    return entries("voices", workspace, "Backend")   # type: ignore[return-value]


def get(name: str, workspace: Path | None = None) -> type[TTSBackend]:
    return entry("voices", name, workspace, "Backend", "TTS backend")   # type: ignore[return-value]
