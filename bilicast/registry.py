"""Extension points as folders: each entry is one module in a folder of the
engine (built in) or of the same name in the workspace (the creator's own),
found by listing the folder, so adding one is adding a file."""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from .errors import UserError


def entries(package: str, workspace: Path | None, attr: str) -> dict[str, object]:
    """name -> the `attr` each module of bilicast/<package>/ and of the
    workspace's <package>/ defines (a workspace entry may replace a built-in
    one of the same name). Modules whose name starts with _ are skipped."""
    found = {}
    builtin = Path(__file__).parent / package
    for path in sorted(builtin.glob("[!_]*.py")):
        found[path.stem] = getattr(importlib.import_module(f"bilicast.{package}.{path.stem}"), attr)
    if workspace is not None:
        for path in sorted((Path(workspace) / package).glob("[!_]*.py")):
            found[path.stem] = getattr(_load(path, f"bilicast_workspace_{package}_{path.stem}"), attr)
    return found


def entry(package: str, name: str, workspace: Path | None, attr: str, what: str) -> object:
    """One entry by name, or a UserError listing the ones there are."""
    found = entries(package, workspace, attr)
    if name not in found:
        raise UserError(f"unknown {what} '{name}'; available: {', '.join(found)} "
                        f"(one of your own: {package}/<name>.py in the workspace)")
    return found[name]


def _load(path: Path, name: str):
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(path):
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"{path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[name]
        raise UserError(f"{path}: the module fails to load: {type(e).__name__}: {e}") from None
    return module
