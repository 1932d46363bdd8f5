"""Bench stage: runs the TensorFlow demos an episode measures and keeps their
results in results/<demo>/<slug>.json. A result is reused while the demo code,
its params and the library versions are unchanged."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from pydantic import ValidationError

from .cache import Cache, Target, atomic_path, digest, write_text_atomic
from .errors import StageError, UserError
from .lifeline import die_with_parent, fault
from .results import Result, read_result
from .workspace import ENGINE, import_file


class DemoRegistry:
    """The demos in <workspace>/demos/*.py, by file name."""

    def __init__(self, workspace: Path):
        self.folder = Path(workspace) / "demos"
        self.files = {f.stem: f for f in sorted(self.folder.glob("*.py")) if not f.name.startswith("_")}

    def names(self) -> list[str]:
        return sorted(self.files)

    def module(self, name: str):
        if name not in self.files:
            raise UserError(f"unknown demo '{name}'; demos in {self.folder}: {', '.join(self.names()) or 'none'}")
        return import_file(self.files[name], "demos")

    def code_hash(self, name: str) -> str:
        """The demo, the worker that runs it, and everything they import from
        bilicast or from beside the demo (bilicast/codehash.py)."""
        from .codehash import code_components
        return digest(code_components(self.files[name], ENGINE / "demokit.py", workspace=self.folder.parent))

    def effective_params(self, name: str, params: dict, tiny: bool) -> dict:
        module = self.module(name)
        overrides = getattr(module, "TINY", {}) if tiny else {}
        return module.Params.model_validate({**params, **overrides}).model_dump()


def result_path(results_dir: Path, demo: str, params: dict, tiny: bool, node: str | None = None) -> Path:
    """results/<demo>/<params hash>[-tiny][@NODE].json (@NODE: measured by `bench --on NODE`)."""
    return result_target(results_dir, demo, params, tiny, node).path


def result_target(results_dir: Path, demo: str, params: dict, tiny: bool, node: str | None = None) -> Target:
    """A bench result's target: keyed by the demo's effective params (its
    code and library versions are checked against the result: `staleness`)."""
    made = Cache(Path(results_dir).parent / ".cache").target("bench result", "results", demo, params, "json",
                                                            name=f"{demo}{' (tiny)' if tiny else ''}")
    return replace(made, path=Path(results_dir) / demo /
                   f"{made.key[:12]}{'-tiny' if tiny else ''}{f'@{node}' if node else ''}.json")


def store_node_result(text: str, log: str, node: str, results_dir: Path) -> Path:
    """A result measured on a cluster node, kept as if imported from it."""
    result = Result.model_validate_json(text)
    result = result.model_copy(update={"imported_from": f"ray node '{node}'", "artifacts": {}})
    path = result_path(results_dir, result.demo, result.params, result.tiny, node)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path.with_suffix(".log"), log)
    write_text_atomic(path, result.to_json())
    return path


def staleness(result: Result, code_hash: str, params: dict) -> str | None:
    """Why a stored result can't be reused, or None if it can. Imported results
    were measured elsewhere: only the demo code and params must match."""
    from .demokit import library_versions
    if result.provenance.code_hash != code_hash:
        return "demo code changed"
    if result.params != params:
        return "params changed"
    if result.imported_from is None:
        current = library_versions()
        for lib, version in current.items():
            if getattr(result.provenance, lib) != version:
                return f"{lib} changed ({getattr(result.provenance, lib)} -> {version})"
    return None


def run_demo(registry: DemoRegistry, name: str, params: dict, results_dir: Path, tiny: bool = False,
             force: bool = False) -> tuple[Result, Path, str]:
    """Run (or reuse) one demo. Returns (result, path, what happened)."""
    eff = registry.effective_params(name, params, tiny)
    path = result_path(results_dir, name, eff, tiny)
    with _demo_lock(path.parent, name):   # two benches of one demo at once: the second waits, then reuses
        return _run_demo_locked(registry, name, eff, path, tiny, force)


@contextlib.contextmanager
def _demo_lock(folder: Path, name: str):
    import fcntl
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fault("bench-locked")
        except BlockingIOError:
            print(f"bench {name}: another bench of this demo is running; waiting for it", file=sys.stderr)
            fault("bench-waits")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _run_demo_locked(registry: DemoRegistry, name: str, eff: dict, path: Path, tiny: bool,
                     force: bool) -> tuple[Result, Path, str]:
    code_hash = registry.code_hash(name)
    reason: str | None = "forced" if force else "not run yet"
    if path.exists() and not force:
        try:
            old = read_result(path)
            reason = staleness(old, code_hash, eff)
            if reason is None:
                return old, path, "reused"
        except UserError as e:
            print(f"warning: {e}; running the demo again", file=sys.stderr)
            reason = "stored result unreadable"
    log_path = path.with_suffix(".log")
    workdir = path.with_suffix(".files")
    print(f"bench {name}{' (tiny)' if tiny else ''}: running ({reason}); log: {log_path}", file=sys.stderr)
    started = time.monotonic()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bilicast-bench-") as tmp:
        out = Path(tmp) / "result.json"
        tmp_work = Path(tmp) / "files"
        tmp_work.mkdir()
        cmd = [sys.executable, "-m", "bilicast.demokit", str(registry.files[name]), json.dumps(eff), str(out),
               str(tmp_work), code_hash] + (["--tiny"] if tiny else [])
        log = _run_logged(cmd, log_path)
        if not out.exists():
            tail = "\n".join(log.strip().splitlines()[-25:])
            raise StageError(f"demo {name} failed; the previous result (if any) is untouched. Full log: {log_path}",
                             tail)
        try:
            result = Result.model_validate_json(out.read_text(encoding="utf-8"))
        except ValidationError as e:   # the demo recorded something the schema refuses
            raise StageError(f"demo {name} wrote a result that does not match the schema; log: {log_path}",
                             str(e)) from None
        # Artifacts (TensorBoard logs, models) move beside the result.
        if any(tmp_work.iterdir()):
            if workdir.exists():
                shutil.rmtree(workdir)
            tmp_work.rename(workdir)
            result = result.model_copy(update={"artifacts": {
                k: str(workdir / Path(v).relative_to(tmp_work)) for k, v in result.artifacts.items()}})
        write_text_atomic(path, result.to_json())
    print(f"bench {name}: done in {time.monotonic() - started:.1f} s -> {path}", file=sys.stderr)
    return result, path, "ran"


def _run_logged(cmd: list[str], log_path: Path) -> str:
    """Run the worker, echo its `progress:` lines, keep everything in the log."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    lines = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                          preexec_fn=die_with_parent) as proc:
        try:
            for line in proc.stdout or ():   # a pipe (stdout=PIPE)
                lines.append(line)
                if line.startswith("progress:"):
                    print("  " + line[len("progress:"):].strip(), file=sys.stderr)
            proc.wait()
        except BaseException:   # interrupted: the worker goes too
            proc.kill()
            raise
    text = "".join(lines)
    write_text_atomic(log_path, text)
    return text


def import_result(registry: DemoRegistry, file: Path, results_dir: Path) -> Path:
    """Accept a result measured on another machine, after checking it."""
    result = read_result(Path(file))
    eff = registry.effective_params(result.demo, result.params, result.tiny)
    if eff != result.params:
        raise UserError(f"{file}: its params {result.params} are not the demo's effective params {eff}")
    current = registry.code_hash(result.demo)
    if result.provenance.code_hash != current:
        print(f"warning: {file} was measured with another version of demos/{result.demo}.py; "
              "it will be replaced if you run the demo here", file=sys.stderr)
    path = result_path(results_dir, result.demo, eff, result.tiny)
    result = result.model_copy(update={"imported_from": str(Path(file).resolve())})
    with atomic_path(path) as tmp:
        tmp.write_text(result.to_json(), encoding="utf-8")
    return path


def summary(result: Result) -> str:
    """A readable table of what was measured."""
    p = result.provenance
    rows = [f"{name:<28} {m.value:>12.4g} {m.unit}" for name, m in result.metrics.items()]
    rows += [f"{name:<28} {t.median:>12.4g} ms median"
             + (f" [95% {t.ci_low:.4g}–{t.ci_high:.4g}]" if t.ci_low is not None else "")
             + f" (p90 {t.p90:.4g}, n={t.samples}, warm-up {t.warmup}, {t.threads} thread{'s' if t.threads > 1 else ''}"
             + (f", {t.processes} processes" if t.processes > 1 else "") + ")" for name, t in result.timings.items()]
    rows += [f"note: {n}" for n in result.notes]
    rows.append(f"measured: {p.cpu} · {p.cores} cores · TF {p.tensorflow} · LiteRT {p.litert} · {p.date}"
                + (f" · imported from {result.imported_from}" if result.imported_from else ""))
    return "\n".join(rows)
