"""espeak-ng, instant but robotic: the fast fallback (`backend: espeak`).
Debian's espeak-ng 1.51 reads Chinese characters through its `cmn` voice as
tone numbers, so it gets tone-numbered pinyin (pypinyin) in its
`cmn-latn-pinyin` voice instead."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from ..errors import StageError
from ..lifeline import die_with_parent
from . import TTSBackend


class Backend(TTSBackend):
    VOICE = "cmn-latn-pinyin"

    def _exe(self) -> str:
        exe = shutil.which("espeak-ng")
        if not exe:
            raise StageError("espeak-ng not found", "install it with `apt-get install espeak-ng` (make setup does)")
        return exe

    def version(self) -> str:
        version = subprocess.run([self._exe(), "--version"], capture_output=True, text=True,
                                 preexec_fn=die_with_parent).stdout.strip()
        return f"{version} {self.VOICE} pinyin-1"

    @staticmethod
    def pinyin(text: str) -> str:
        from pypinyin import Style, lazy_pinyin
        syllables = lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True,
                                # pypinyin takes a list back too; its hints say str
                                errors=lambda chars: [{"，": ",", "。": ".", "！": "!", "？": "?", "；": ";", "：": ",",  # type: ignore[arg-type, return-value]
                                                       "、": ","}.get(c, " ") for c in chars])
        return re.sub(r"\s+([,.!?;])", r"\1", " ".join(syllables)).strip()

    def synthesize(self, text, voice, target):
        proc = subprocess.run([self._exe(), "-v", self.VOICE, "-s", str(round(175 * voice.rate)),
                               "-p", str(voice.pitch), "-w", str(target), self.pinyin(text)],
                              capture_output=True, text=True, preexec_fn=die_with_parent)
        if proc.returncode != 0 or not Path(target).exists():
            raise StageError(f"espeak-ng failed for {text!r}", proc.stderr.strip())
