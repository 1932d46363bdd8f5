"""The default voice: an offline neural Mandarin voice (bilicast/zhvoice.py)."""
from __future__ import annotations

from pathlib import Path

from ..cache import digest, file_hash
from ..codehash import code_components
from . import TTSBackend


class Backend(TTSBackend):
    _voice = None
    _version: str | None = None

    def version(self) -> str:
        if Backend._version is None:
            from .. import zhvoice
            assets = zhvoice.package_dir() / "asset"
            files = [assets / "fastspeech2_quan.tflite", assets / "mb_melgan.tflite", assets / "baker_mapper.json"]
            Backend._version = digest({"code": code_components(Path(zhvoice.__file__)),
                                       "files": [file_hash(f) for f in files]})
        return Backend._version

    def synthesize(self, text, voice, target):
        from .. import zhvoice
        if Backend._voice is None:
            Backend._voice = zhvoice.Voice()
        zhvoice.write_wav(Backend._voice.synthesize(text, speed=voice.rate), target)
