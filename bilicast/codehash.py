"""Which code shaped an output: a module and everything it imports from
bilicast or from beside itself in the workspace, found by reading the
imports (at any depth in the file, so lazy imports inside functions count
too). Keys hash these files, so upgrading bilicast or editing a helper
rebuilds exactly what used it, and `plan` can name the file."""
from __future__ import annotations

import ast
import functools
from pathlib import Path

from .cache import file_hash
from .workspace import ENGINE


def _module_file(name: str, beside: Path) -> Path | None:
    """bilicast.x -> bilicast/x.py; a bare name -> a .py file beside the importer."""
    parts = name.split(".")
    if parts[0] == "bilicast":
        candidate = ENGINE.joinpath(*parts[1:]) if len(parts) > 1 else ENGINE / "__init__.py"
    else:
        candidate = beside.joinpath(*parts)
    for path in (candidate.with_suffix(".py"), candidate / "__init__.py"):
        if path.is_file():
            return path.resolve()
    return None


@functools.lru_cache(maxsize=256)
def _imports(file: Path, stamp: tuple) -> tuple[Path, ...]:
    tree = ast.parse(file.read_text(encoding="utf-8"), str(file))
    for node in ast.walk(tree):   # `if TYPE_CHECKING:` imports are for annotations, never run
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            node.body = []
    package = "bilicast" if file.parent == ENGINE.resolve() else None
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:   # relative: only inside the bilicast package
                if package is None:
                    continue
                base = f"{package}.{base}" if base else package
            # `from bilicast import subtitles` names a module; `from x import y` may too
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            path = _module_file(name, file.parent)
            if path and path != file:
                found.append(path)
    return tuple(dict.fromkeys(found))


def code_files(*entries: Path) -> list[Path]:
    """The entries and every module they import from bilicast or the
    workspace, transitively; sorted."""
    seen: set[Path] = set()
    todo = [Path(e).resolve() for e in entries]
    while todo:
        file = todo.pop()
        if file in seen:
            continue
        seen.add(file)
        stat = file.stat()
        todo.extend(_imports(file, (stat.st_mtime_ns, stat.st_size)))
    return sorted(seen)


def code_components(*entries: Path, workspace: Path | None = None) -> dict[str, str]:
    """{"code:bilicast/scenekit.py": hash, "code:scenes/data.py": hash, ...}
    for key components, named relative to the engine or the workspace."""
    out = {}
    for file in code_files(*entries):
        if file.is_relative_to(ENGINE.resolve()):
            name = "bilicast/" + file.relative_to(ENGINE.resolve()).as_posix()
        elif workspace and file.is_relative_to(Path(workspace).resolve()):
            name = file.relative_to(Path(workspace).resolve()).as_posix()
        else:
            name = file.as_posix()
        out[f"code:{name}"] = file_hash(file)
    return out
