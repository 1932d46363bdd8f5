"""Content-addressed cache: keys are sha256 of canonical JSON, writes are atomic."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import uuid
from pathlib import Path


def digest(obj) -> str:
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def file_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@contextlib.contextmanager
def atomic_path(target: str | Path):
    """Yield a temporary path beside `target`; move it into place only if the
    block finishes, so a crash never leaves a half-written file at `target`."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # the writer's pid is in the name, so a later run can tell a dead writer's leftovers
    tmp = target.with_name(f".{target.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{target.suffix}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def alive(pid: int) -> bool:
    """A running process (a zombie, dead but not yet reaped, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


_OWNED = re.compile(r"[.-](\d+)-[0-9a-z_]{8}(?:\.tmp|$)")


def sweep_leftovers(*folders: Path) -> int:
    """Remove temp files and scratch folders whose writer process is gone (a
    run killed with -9 can't clean up after itself); a live run's are kept."""
    removed = 0
    for folder in folders:
        if not Path(folder).exists():
            continue
        for path in list(Path(folder).rglob("*")):
            m = _OWNED.search(path.name)
            if not m or ".tmp" not in path.name and path.parent.name != "tmp" or alive(int(m.group(1))):
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
    return removed


def write_text_atomic(target: str | Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def usable(path: Path, check) -> bool:
    """A cache entry counts only if it exists and `check(path)` accepts it; a
    corrupt or partial one is removed with a warning (a miss, never a crash)."""
    import sys
    if not path.exists():
        return False
    try:
        if check(path):
            return True
    except Exception:
        pass
    print(f"warning: cache entry {path} is unreadable; building it again", file=sys.stderr)
    path.unlink(missing_ok=True)
    return False


class Cache:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def entry(self, stage: str, slug: str, key: str, ext: str) -> Path:
        """Artifacts are named readable-slug-<hash>.ext under their stage."""
        return self.root / stage / f"{slug}-{key[:16]}.{ext}"
