"""Which code shaped an output: a module and everything it imports from
bilicast or from beside itself in the workspace, found by reading the
imports (at any depth in the file, so lazy imports inside functions count
too). Keys hash these files, so upgrading bilicast or editing a helper
rebuilds exactly what used it, and `plan` can name the file."""
from __future__ import annotations

import functools
import re
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


_TYPE_CHECKING = re.compile(r"if\s+(?:typing\.)?TYPE_CHECKING\s*:")
_FROM = re.compile(r"from\s+(\.*)([\w.]*)\s+import\s+(.*)")
_IMPORT = re.compile(r"import\s+(.*)")


def _names(text: str) -> list[str]:
    """`a, b as c, (d)` -> [a, b, d]"""
    return [n.split(" as ")[0].strip(" ()\\") for n in text.split("#")[0].split(",") if n.strip(" ()\\")]


@functools.lru_cache(maxsize=256)
def _imports(file: Path, stamp: tuple) -> tuple[Path, ...]:
    """The files a module imports, read line by line (a parse of every
    engine module took most of `plan`'s second). An import line in a string
    only adds a file to a key, never drops one."""
    lines = file.read_text(encoding="utf-8").splitlines()
    engine = ENGINE.resolve()   # relative imports count inside the bilicast package (and its subpackages)
    package = ".".join(("bilicast", *file.parent.relative_to(engine).parts)) if file.is_relative_to(engine) else None
    found, skip_below, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        i += 1
        code = line.lstrip()
        indent = len(line) - len(code)
        if skip_below is not None:   # inside `if TYPE_CHECKING:`: imports for annotations, never run
            if not code or indent > skip_below:
                continue
            skip_below = None
        if _TYPE_CHECKING.match(code):
            skip_below = indent
            continue
        if m := _FROM.match(code):
            rest = m.group(3)
            while rest.lstrip().startswith("(") and ")" not in rest and i < len(lines):
                rest += " " + lines[i]
                i += 1
            base = m.group(2)
            if m.group(1):   # relative: only inside the bilicast package
                parts = package.split(".") if package else []
                up = len(m.group(1)) - 1   # `from ..x` goes one package up
                if up >= len(parts):
                    continue
                root = ".".join(parts[:len(parts) - up])
                base = f"{root}.{base}" if base else root
            # `from bilicast import subtitles` names a module; `from x import y` may too
            names = [base] + [f"{base}.{name}" for name in _names(rest)]
        elif m := _IMPORT.match(code):
            names = _names(m.group(1))
        else:
            continue
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
