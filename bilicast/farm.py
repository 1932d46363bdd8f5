"""Segments on a Ray cluster (`render --executor ray [--address ADDR]`).

A job travels whole: the scene's workspace files (scenes/ and the files it
shows) go as the job's Ray runtime_env working_dir, the engine as a
py_module, the overlay PNG and the subtitles inside the job. Nothing assumes
a shared filesystem: a worker renders into a folder of its own and returns
the animation, its chunks and the finished segment as bytes, which this
process writes into the local cache, atomically, the finished segment last.

A worker that dies (killed, out of memory, its node gone) loses only its
job, which Ray runs once more elsewhere; a job that fails twice, or whose
scene raises, fails the render with its log. Ctrl-C cancels what is still
running. Ray is an optional extra: `pip install -e '.[ray]'`."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .cache import alive, atomic_path
from .errors import StageError, UserError

INSTALL_HINT = "the Ray executor needs the `ray` extra: `.venv/bin/pip install -e '.[ray]'` (make setup installs it)"
TRIES = 2   # a job whose worker died is run once more, then the render fails
PASSED_ON = ("BILICAST_KILL_AT", "BILICAST_KILL_MARKER")   # test hooks (lifeline.fault) reach the workers


def _ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")   # no network at run time
    try:
        import ray
    except ImportError:
        raise UserError(f"--executor ray: {INSTALL_HINT}") from None
    return ray


def stage_workspace(jobs: list[dict], workspace: Path, folder: Path) -> None:
    """What the workers need of the workspace, copied to `folder`: its
    scenes/ (a scene's helpers too) and every file a job shows."""
    shutil.copytree(workspace / "scenes", folder / "scenes", ignore=shutil.ignore_patterns("__pycache__"))
    for job in jobs:
        for path in job["files"].values():
            target = folder / Path(path).relative_to(workspace)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def portable(job: dict, workspace: Path) -> dict:
    """The job with its workspace paths made relative and its overlay inline."""
    job = {k: v for k, v in job.items() if k not in ("burn_in", "manifest")}
    job["scene_file"] = str(Path(job["scene_file"]).relative_to(workspace))
    job["files"] = {name: str(Path(p).relative_to(workspace)) for name, p in job["files"].items()}
    if job.get("overlay"):
        job["overlay"] = {**job["overlay"], "png_bytes": Path(job["overlay"]["png"]).read_bytes()}
    return job


def build_remote(job: dict) -> dict:
    """Runs on a worker, in the staged workspace: render and finish the
    segment in a folder of its own; return what it made, as bytes."""
    import ray

    from . import animate
    here = Path.cwd()
    for folder in Path(tempfile.gettempdir()).glob("bilicast-ray-*-*"):   # left by a worker that was killed
        pid = folder.name.split("-")[2]
        if pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=f"bilicast-ray-{os.getpid()}-") as tmp:
        root = Path(tmp)
        local = {**job, "scene_file": str(here / job["scene_file"]),
                 "files": {name: str(here / p) for name, p in job["files"].items()},
                 "raw": str(root / "animations" / Path(job["raw"]).name),
                 "target": str(root / "segments" / Path(job["target"]).name),
                 "chunks": str(root / "chunks"), "scratch": str(root / "tmp")}
        if job.get("overlay"):
            png = root / "charts" / Path(job["overlay"]["png"]).name
            png.parent.mkdir(parents=True)
            png.write_bytes(job["overlay"]["png_bytes"])
            local["overlay"] = {**job["overlay"], "png": str(png)}
        (root / "tmp").mkdir()
        seconds = animate.build_segment(local)
        made = {f"{p.parent.name}/{p.name}": p.read_bytes()
                for folder in ("animations", "chunks", "segments") for p in sorted((root / folder).glob("*"))}
    return {"seconds": seconds, "node": ray.get_runtime_context().get_node_id(), "files": made}


def node_names(ray) -> dict[str, str]:
    """Node id -> a short name: its bilicast label (a custom resource) if any, else its host and id."""
    names = {}
    for node in ray.nodes():
        labels = sorted(r for r in node.get("Resources", {}) if r.startswith("bench-"))
        names[node["NodeID"]] = labels[0][6:] if labels else f"{node['NodeManagerHostname']}:{node['NodeID'][:6]}"
    return names


def render_on_ray(jobs: list[dict], workspace: Path, address: str | None, done, bar) -> None:
    """Render the jobs (their animations need Manim) on the cluster at
    `address` (None: a local one started for this render); `done(job,
    seconds)` as each finishes; the bar shows how many each node did."""
    ray = _ray()
    from ray.exceptions import RayTaskError, TaskCancelledError, WorkerCrashedError
    with tempfile.TemporaryDirectory(prefix="bilicast-stage-") as stage:
        stage_workspace(jobs, workspace, Path(stage))
        env = {"working_dir": stage, "py_modules": [str(Path(__file__).parent)],
               "env_vars": {k: os.environ[k] for k in PASSED_ON if k in os.environ}}
        # no address: a cluster of this machine alone, started for this render
        # (never one found running here: that one is named by its address)
        options = {} if address else {"include_dashboard": False, "num_cpus": os.cpu_count()}
        ray.init(address=address or "local", runtime_env=env, log_to_driver=False, configure_logging=False,
                 **options)
        try:
            remote = ray.remote(num_cpus=1, max_retries=TRIES - 1, retry_exceptions=False)(build_remote)
            pending = {remote.remote(portable(job, workspace)): job for job in jobs}
            names, per_node = node_names(ray), {}
            try:
                while pending:
                    ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                    for ref in ready:
                        job = pending.pop(ref)
                        try:
                            result = ray.get(ref)
                        except WorkerCrashedError:
                            raise StageError(f"segment '{job['segment']}': its Ray worker died {TRIES} times",
                                             "see the workers' logs under /tmp/ray/session_latest/logs") from None
                        except RayTaskError as e:
                            if isinstance(e.cause, StageError):
                                raise e.cause from None
                            raise StageError(f"segment '{job['segment']}' failed on Ray: {e.cause}", str(e)) from None
                        _store(result["files"], workspace / ".cache")
                        node = names.get(result["node"], result["node"][:6])
                        per_node[node] = per_node.get(node, 0) + 1
                        bar.set_postfix_str(" ".join(f"{n}: {c}" for n, c in sorted(per_node.items())))
                        done(job, result["seconds"])
            except BaseException:   # an error or Ctrl-C: what still runs is cancelled
                for ref in pending:
                    try:
                        ray.cancel(ref, force=True)
                    except (TaskCancelledError, ValueError):
                        pass
                raise
        finally:
            ray.shutdown()


def _store(files: dict[str, bytes], cache: Path) -> None:
    """Write a worker's files into the cache, each atomically; the finished
    segment last, so a segment is never there without its animation."""
    for name in sorted(files, key=lambda n: n.startswith("segments/")):
        with atomic_path(cache / name) as tmp:
            tmp.write_bytes(files[name])


def bench_remote(demo: str, params: dict, tiny: bool, node: str) -> tuple[str, str]:
    """Runs on a labelled node, in the staged workspace: the demo, measured
    there (its provenance names the node); returns the result and its log."""
    from . import bench
    os.environ["BILICAST_NODE"] = node
    with tempfile.TemporaryDirectory(prefix=f"bilicast-ray-{os.getpid()}-") as tmp:
        registry = bench.DemoRegistry(Path.cwd())
        _, path, _ = bench.run_demo(registry, demo, params, Path(tmp), tiny=tiny, force=True)
        return path.read_text(encoding="utf-8"), path.with_suffix(".log").read_text(encoding="utf-8")


def bench_on_ray(runs: list[tuple[str, str, dict]], nodes: list[str], workspace: Path, address: str | None,
                 tiny: bool) -> list[tuple[str, str, Path]]:
    """Each (key, demo, params) on each node labelled `bench-NODE` (a Ray
    custom resource), at once; the results land in results/ as
    <hash>[-tiny]@NODE.json. Returns (key, node, path) for each."""
    ray = _ray()
    from ray.exceptions import RayTaskError, WorkerCrashedError

    from . import bench
    with tempfile.TemporaryDirectory(prefix="bilicast-stage-") as stage:
        shutil.copytree(workspace / "demos", Path(stage) / "demos", ignore=shutil.ignore_patterns("__pycache__"))
        env = {"working_dir": stage, "py_modules": [str(Path(__file__).parent)]}
        options = {} if address else {"include_dashboard": False, "num_cpus": os.cpu_count()}
        ray.init(address=address or "local", runtime_env=env, log_to_driver=False, configure_logging=False,
                 **options)
        try:
            have = {r[len("bench-"):] for r in ray.cluster_resources() if r.startswith("bench-")}
            missing = [n for n in nodes if n not in have]
            if missing:
                raise UserError(f"--on {','.join(nodes)}: no node of the cluster is labelled {', '.join(missing)} "
                                f"(labels now: {', '.join(sorted(have)) or 'none'}); start one with "
                                "`ray start --address ADDR --resources '{\"bench-LABEL\": 1}'`")
            remote = ray.remote(max_retries=TRIES - 1, retry_exceptions=False)(bench_remote)
            registry = bench.DemoRegistry(workspace)
            pending = {}
            for key, demo, params in runs:
                eff = registry.effective_params(demo, params, tiny)
                for node in nodes:   # one demo at a time on a node: its timings are not shared
                    ref = remote.options(num_cpus=0, resources={f"bench-{node}": 1}).remote(demo, eff, tiny, node)
                    pending[ref] = (key, demo, node)
            done = []
            try:
                while pending:
                    ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                    for ref in ready:
                        key, demo, node = pending.pop(ref)
                        try:
                            text, log = ray.get(ref)
                        except WorkerCrashedError:
                            raise StageError(f"bench {key} on {node}: its Ray worker died {TRIES} times") from None
                        except RayTaskError as e:
                            if isinstance(e.cause, (StageError, UserError)):
                                raise e.cause from None
                            raise StageError(f"bench {key} ({demo}) failed on {node}: {e.cause}", str(e)) from None
                        done.append((key, node, bench.store_node_result(text, log, node, workspace / "results")))
            except BaseException:
                for ref in pending:
                    ray.cancel(ref, force=True)
                raise
            return done
        finally:
            ray.shutdown()
