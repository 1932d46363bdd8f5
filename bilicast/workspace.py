"""The workspace: the folder with the channel's scenes/, demos/, scripts/ and
results/, which the engine discovers from a script's location."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ENGINE = Path(__file__).parent


def find_workspace(script_path: Path | None = None) -> Path:
    """The nearest folder above the script that has scenes/, else the current
    folder, else the folder the engine was installed from."""
    above = Path(script_path).resolve().parents if script_path else []
    for folder in [*above, Path.cwd(), ENGINE.parent]:
        if (folder / "scenes").is_dir():
            return folder
    return Path.cwd()


ALLOW_OUTSIDE_ENV = "BILICAST_ALLOW_OUTSIDE"   # folders outside the workspace a script may name (os.pathsep)


def outside_workspace(file: str | Path, workspace: Path) -> Path | None:
    """None when `file` (relative to the workspace) resolves, after symlinks,
    inside the workspace or a folder allowed with --allow-outside; else where
    it really points."""
    real = (Path(workspace) / file).resolve()
    roots = [Path(workspace).resolve()] + [Path(p).resolve() for p in
                                           os.environ.get(ALLOW_OUTSIDE_ENV, "").split(os.pathsep) if p]
    return None if any(real.is_relative_to(root) for root in roots) else real


def import_file(file: Path, prefix: str):
    """Import a workspace module (scenes/x.py, demos/y.py) by path. It may
    import helpers beside it by their bare names (scenes/_look.py: `import
    _look`); bilicast.codehash follows those imports into the keys."""
    file = Path(file).resolve()
    name = f"bilicast_{prefix}_{file.stem}"
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(file):
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(file.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(file.parent))
    return module


def shown_file(workspace: Path, name: str) -> Path | None:
    """A file a scene shows, by its workspace-relative name (None if missing)."""
    path = (workspace / name).resolve()
    return path if path.is_file() else None
