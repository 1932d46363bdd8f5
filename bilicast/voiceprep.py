"""`python -m bilicast.voiceprep`: makes the derived voice and recognizer
model files once (setup runs it); later calls find them and return at once."""
from __future__ import annotations

import sys

from .errors import StageError


def main() -> int:
    from . import listen, zhvoice
    try:
        zhvoice.builtin_model()
    except StageError as e:
        print(f"setup: neural voice not ready: {e} ({e.log})", file=sys.stderr)
        return 1
    try:
        listen.model_path()
    except StageError as e:   # the speech extra is optional
        print(f"setup: listening check not available: {e}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
