"""The workspace: the folder with the channel's scenes/, demos/, scripts/ and
results/, which the engine discovers from a script's location."""
from __future__ import annotations

import importlib.util
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


def import_file(file: Path, prefix: str):
    """Import a workspace module (scenes/x.py, demos/y.py) by path."""
    file = Path(file).resolve()
    name = f"bilicast_{prefix}_{file.stem}"
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(file):
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
