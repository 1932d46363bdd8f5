"""Content-addressed cache: keys are sha256 of canonical JSON, writes are atomic."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
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

    def target(self, kind: str, stage: str, slug: str, shaped_by: dict | None = None, ext: str = "", *,
               name: str | None = None, key: str | None = None, components: dict | None = None,
               leave_out: tuple[str, ...] = (), path: Path | None = None,
               remembered_as: str | None = None) -> "Target":
        """The one way a cache key is made: `digest(shaped_by)`, its components
        {name: digest(value)}, and where the artifact goes (cache.entry, unless
        `path` is given). `components` given instead of `shaped_by`: they are
        already digests and the key is their digest, less those in `leave_out`
        (the segment's key leaves out its take). `key` given: a key not made
        from components (the AAC piece's hash of the bytes its encoder reads).
        `remembered_as`: the manifest's name, where one slug has targets in
        several variants or sizes (else the slug)."""
        if components is None:
            shaped_by = shaped_by or {}
            components = {k: digest(v) for k, v in shaped_by.items()}
            if key is None:
                key = digest(shaped_by)
        elif key is None:
            key = digest({k: v for k, v in components.items() if k not in leave_out})
        return Target(kind, name or slug, Path(path) if path else self.entry(stage, slug, key, ext), key,
                      dict(components), stage, remembered_as or slug)

    def manifest(self, target: "Target") -> Path:
        return self.root / "manifests" / "targets" / target.stage / f"{target.slug}.json"

    def remember(self, target: "Target") -> None:
        """Keep the key's components, so a later plan can say what changed."""
        write_text_atomic(self.manifest(target), json.dumps(
            {"kind": target.kind, "name": target.name, "key": target.key, "components": target.components},
            ensure_ascii=False, sort_keys=True))

    def state(self, target: "Target", valid=None) -> tuple[str, list[str]]:
        """("cached", []) when its file is there (and `valid` accepts it), else
        ("build", why): the components changed since it was last made, "not
        built" when it never was, "cached file missing" when nothing changed."""
        path = Path(target.path)
        if path.exists():
            try:
                if valid is None or valid(path):
                    return "cached", []
            except Exception:
                pass
        return "build", self.reasons(target)

    def reasons(self, target: "Target") -> list[str]:
        try:
            old = json.loads(self.manifest(target).read_text(encoding="utf-8"))["components"]
        except (OSError, ValueError, KeyError, TypeError):
            return ["not built"]
        new = target.components
        changed = [k for k in sorted(set(new) | set(old)) if new.get(k) != old.get(k)]
        code = [k.split(":", 1)[1] for k in changed if k.startswith("code:")]
        reasons = [f"{k.replace(':', ' ', 1)} changed" for k in changed if not k.startswith("code:")]
        if code:
            reasons.append(f"code {', '.join(code[:3])} changed" + (f" (and {len(code) - 3} more files)"
                                                                     if len(code) > 3 else ""))
        return reasons or ["cached file missing"]


@dataclass(frozen=True)
class Target:
    """One cached artifact: what it is (kind, a readable name), where it goes,
    its key and the key's components {component: digest}. stage and slug
    name its manifest (.cache/manifests/targets/<stage>/<slug>.json)."""
    kind: str
    name: str
    path: Path
    key: str
    components: dict = field(default_factory=dict, hash=False, compare=False)
    stage: str = ""
    slug: str = ""

    def fact(self, state: str, reasons: list[str]) -> dict:
        return {"kind": self.kind, "name": self.name, "state": state, "reasons": reasons, "path": str(self.path)}
