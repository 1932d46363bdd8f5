"""Segments and benchmarks on a Ray cluster (`render --executor ray`,
`bench --executor ray --on LABEL,…`).

A job travels whole. What it needs of the workspace (scenes/ and the files
scenes show, or demos/) goes once into Ray's object store, named by its
content hash, and a worker unpacks it into a folder of that name on its node
(reused while the files stay the same); the overlay PNG and the subtitles
travel inside the job. The engine is the node's own: every node runs
`make setup` in a checkout (Manim, fonts and ffmpeg have to be there anyway),
and a worker whose engine differs from this one refuses the job, naming
both. With no runtime environment to build, a job starts on the workers Ray
keeps ready. Nothing assumes a shared filesystem: a worker renders into a
folder of its own and returns the animation, its chunks and the finished
segment as bytes, which this process writes into the local cache,
atomically, the finished segment last.

A worker that dies (killed, out of memory, its node gone) loses only its
job, which Ray runs once more elsewhere; a job that fails twice, or whose
scene raises, fails the run with its log. Ctrl-C cancels what is still
running. Ray is an optional extra: `pip install -e '.[ray]'`."""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from .cache import alive, atomic_path
from .contracts import SegmentJob
from .errors import StageError, UserError

INSTALL_HINT = "the Ray executor needs the `ray` extra: `.venv/bin/pip install -e '.[ray]'` (make setup installs it)"
TRIES = 2   # a job whose worker died is run once more, then the run fails
PASSED_ON = ("BILICAST_KILL_AT", "BILICAST_KILL_MARKER", "BILICAST_PAUSE_AT", "BILICAST_PAUSE_SOCKET")   # test hooks (lifeline.fault)
ENGINE = Path(__file__).parent
LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"   # "0": Ray's node address is 127.0.0.1, as on a laptop


def _ray(address: str | None):
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")   # no network at run time
    if address is None:
        # A cluster started for this run serves this machine alone: Ray then
        # takes 127.0.0.1 as the node's address, and its GCS, raylet and
        # workers listen on loopback only (otherwise on every interface, and
        # Ray has no authentication). Read when ray is first imported.
        os.environ[LOOPBACK_ONLY] = "0"
    try:
        import ray
    except ImportError:
        raise UserError(f"--executor ray: {INSTALL_HINT}") from None
    return ray


def _connect(ray, address: str | None) -> None:
    """Join the cluster at `address`; with none, start one of this machine
    alone for this run (never one found running here: that one is named by
    its address), and refuse to go on if it would listen beyond loopback."""
    options = {} if address else {"include_dashboard": False, "num_cpus": os.cpu_count()}
    ray.init(address=address or "local", log_to_driver=False, configure_logging=False, **options)
    if address is None and ray.util.get_node_ip_address() != "127.0.0.1":
        ray.shutdown()
        raise StageError("the Ray cluster started for this render would listen beyond loopback",
                         f"{LOOPBACK_ONLY}=0 was set after ray was imported; run bilicast in a fresh process")


def engine_hash() -> str:
    """The engine's code, as the driver and every worker compare it."""
    h = hashlib.sha256()
    for file in sorted(ENGINE.rglob("*.py")):
        h.update(str(file.relative_to(ENGINE)).encode() + b"\0" + file.read_bytes())
    return h.hexdigest()[:16]


def pack(workspace: Path, folders: list[str], files: Sequence[str] = ()) -> tuple[str, dict[str, bytes]]:
    """The workspace files a job needs, {relative path: bytes}, and their content hash."""
    packed = {}
    for folder in folders:
        for path in sorted((workspace / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                packed[str(path.relative_to(workspace))] = path.read_bytes()
    for file in files:
        packed[str(Path(file).relative_to(workspace))] = Path(file).read_bytes()
    h = hashlib.sha256()
    for name in sorted(packed):
        h.update(name.encode() + b"\0" + hashlib.sha256(packed[name]).digest())
    return h.hexdigest()[:16], packed


def unpacked(key: str, packed: dict[str, bytes]) -> Path:
    """On a worker: the packed files in a folder named by their hash (made once per node)."""
    folder = Path(tempfile.gettempdir()) / f"bilicast-ray-ws-{key}"
    if not folder.exists():
        tmp = Path(tempfile.mkdtemp(prefix=f"bilicast-ray-{os.getpid()}-"))
        for name, data in packed.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(data)
        try:
            tmp.rename(folder)
        except OSError:   # another worker made it first: the same files
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


@contextlib.contextmanager
def _on_worker(engine: str, env: dict):
    """A job's setting on a worker: the same engine, the driver's test hooks
    (unset again after, for the worker serves other jobs), and a folder of
    its own; folders left by killed workers are swept."""
    if engine != engine_hash():
        import socket
        raise StageError(f"the Ray node {socket.gethostname()} runs another bilicast engine "
                         f"({engine_hash()}, this render's is {engine})",
                         "update its checkout to this one's commit and run `make setup` there")
    for folder in Path(tempfile.gettempdir()).glob("bilicast-ray-*-*"):
        pid = folder.name.split("-")[2]
        if pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
    before = {k: os.environ.get(k) for k in PASSED_ON}
    os.environ.update(env)
    try:
        with tempfile.TemporaryDirectory(prefix=f"bilicast-ray-{os.getpid()}-") as tmp:
            yield Path(tmp)
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def portable(job: SegmentJob, workspace: Path) -> SegmentJob:
    """The job with its workspace paths made relative and its overlay inline
    (the subtitles travel as ASS; the manifest is written here)."""
    overlay = replace(job.overlay, png_bytes=Path(job.overlay.png).read_bytes()) if job.overlay else None
    return replace(job, scene_file=str(Path(job.scene_file).relative_to(workspace)),
                   files={name: str(Path(p).relative_to(workspace)) for name, p in job.files.items()},
                   overlay=overlay, burn_in=None, manifest="",
                   stamps=tuple(replace(s, png_bytes=Path(s.png).read_bytes()) for s in job.stamps))


def build_remote(job: SegmentJob, engine: str, env: dict, files_key: str, files: dict) -> dict:
    """Runs on a worker: render and finish the segment in a folder of its
    own; return what it made, as bytes."""
    import ray

    from . import animate
    with _on_worker(engine, env) as root:
        here = unpacked(files_key, files)
        overlay = job.overlay
        if overlay:
            png = root / "charts" / Path(overlay.png).name
            png.parent.mkdir(parents=True)
            png.write_bytes(overlay.png_bytes)
            overlay = replace(overlay, png=str(png), png_bytes=b"")
        stamps = []
        for stamp in job.stamps:
            png = root / "stamps" / Path(stamp.png).name
            png.parent.mkdir(exist_ok=True)
            png.write_bytes(stamp.png_bytes)
            stamps.append(replace(stamp, png=str(png), png_bytes=b""))
        local = replace(job, scene_file=str(here / job.scene_file),
                        files={name: str(here / p) for name, p in job.files.items()},
                        raw=str(root / "animations" / Path(job.raw).name),
                        target=str(root / "segments" / Path(job.target).name),
                        chunks=str(root / "chunks"), scratch=str(root / "tmp"), overlay=overlay,
                        stamps=tuple(stamps))
        (root / "tmp").mkdir()
        seconds = animate.build_segment(local)
        made = {f"{p.parent.name}/{p.name}": p.read_bytes()
                for folder in ("animations", "chunks", "segments") for p in sorted((root / folder).glob("*"))}
    return {"seconds": seconds, "node": ray.get_runtime_context().get_node_id(), "files": made}


def node_names(ray) -> dict[str, str]:
    """Node id -> a short name: its bench label (a custom resource) if any, else its host and id."""
    names = {}
    for node in ray.nodes():
        labels = sorted(r for r in node.get("Resources", {}) if r.startswith("bench-"))
        names[node["NodeID"]] = labels[0][6:] if labels else f"{node['NodeManagerHostname']}:{node['NodeID'][:6]}"
    return names


def _gather(ray, pending: dict, what, handle) -> None:
    """Wait for each task; hand its value to `handle(item, value)`. A task
    whose worker died TRIES times, or that raised, fails the run; on any
    error or Ctrl-C what still runs is cancelled."""
    from ray.exceptions import RayTaskError, TaskCancelledError, WorkerCrashedError
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in ready:
                item = pending.pop(ref)
                try:
                    value = ray.get(ref)
                except WorkerCrashedError:
                    raise StageError(f"{what(item)}: its Ray worker died {TRIES} times",
                                     "see the workers' logs under /tmp/ray/session_latest/logs") from None
                except RayTaskError as e:
                    if isinstance(e.cause, (StageError, UserError)):
                        raise e.cause from None
                    raise StageError(f"{what(item)} failed on Ray: {e.cause}", str(e)) from None
                handle(item, value)
    except BaseException:
        for ref in pending:
            with contextlib.suppress(TaskCancelledError, ValueError):
                ray.cancel(ref, force=True)
        raise


def render_on_ray(jobs: list[SegmentJob], workspace: Path, address: str | None, done, bar) -> None:
    """Render the jobs (their animations need Manim) on the cluster at
    `address` (None: a local one started for this render); `done(job,
    seconds)` as each finishes; the bar shows how many each node did."""
    ray = _ray(address)
    _connect(ray, address)
    try:
        key, files = pack(workspace, ["scenes", "variants"], sorted({p for job in jobs for p in job.files.values()}))
        files_ref = ray.put(files)
        env = {k: os.environ[k] for k in PASSED_ON if k in os.environ}
        remote = ray.remote(num_cpus=1, max_retries=TRIES - 1, retry_exceptions=False)(build_remote)
        engine = engine_hash()
        pending = {remote.remote(portable(job, workspace), engine, env, key, files_ref): job for job in jobs}
        names = node_names(ray)
        per_node: dict[str, int] = {}

        def handle(job: SegmentJob, result: dict) -> None:
            _store(result["files"], workspace / ".cache")
            node = names.get(result["node"], result["node"][:6])
            per_node[node] = per_node.get(node, 0) + 1
            bar.set_postfix_str(" ".join(f"{n}: {c}" for n, c in sorted(per_node.items())))
            done(job, result["seconds"])
        _gather(ray, pending, lambda job: f"segment '{job.segment}'", handle)
    finally:
        ray.shutdown()


def _store(files: dict[str, bytes], cache: Path) -> None:
    """Write a worker's files into the cache, each atomically; the finished
    segment last, so a segment is never there without its animation."""
    for name in sorted(files, key=lambda n: n.startswith("segments/")):
        with atomic_path(cache / name) as tmp:
            tmp.write_bytes(files[name])


def bench_remote(demo: str, params: dict, tiny: bool, node: str, engine: str, files_key: str,
                 files: dict) -> tuple[str, str]:
    """Runs on a labelled node: the demo, measured there (its provenance
    names the node); returns the result and its log."""
    from . import bench
    with _on_worker(engine, {"BILICAST_NODE": node}) as root:
        registry = bench.DemoRegistry(unpacked(files_key, files))
        _, path, _ = bench.run_demo(registry, demo, params, root, tiny=tiny, force=True)
        return path.read_text(encoding="utf-8"), path.with_suffix(".log").read_text(encoding="utf-8")


def bench_on_ray(runs: list[tuple[str, str, dict]], nodes: list[str], workspace: Path, address: str | None,
                 tiny: bool) -> list[tuple[str, str, Path]]:
    """Each (key, demo, params) on each node labelled `bench-NODE` (a Ray
    custom resource), at once; the results land in results/ as
    <hash>[-tiny]@NODE.json. Returns (key, node, path) for each."""
    from . import bench
    ray = _ray(address)
    _connect(ray, address)
    try:
        have = {r[len("bench-"):] for r in ray.cluster_resources() if r.startswith("bench-")}
        missing = [n for n in nodes if n not in have]
        if missing:
            raise UserError(f"--on {','.join(nodes)}: no node of the cluster is labelled {', '.join(missing)} "
                            f"(labels now: {', '.join(sorted(have)) or 'none'}); start one with "
                            "`ray start --address ADDR --resources '{\"bench-LABEL\": 1}'`")
        key, files = pack(workspace, ["demos"])
        files_ref, engine = ray.put(files), engine_hash()
        remote = ray.remote(max_retries=TRIES - 1, retry_exceptions=False)(bench_remote)
        registry = bench.DemoRegistry(workspace)
        pending = {}
        for bench_key, demo, params in runs:
            eff = registry.effective_params(demo, params, tiny)
            for node in nodes:   # one demo at a time on a node: its timings are not shared
                ref = remote.options(num_cpus=0, resources={f"bench-{node}": 1}).remote(
                    demo, eff, tiny, node, engine, key, files_ref)
                pending[ref] = (bench_key, demo, node)
        done = []
        _gather(ray, pending, lambda item: f"bench {item[0]} on {item[2]}",
                lambda item, value: done.append(
                    (item[0], item[2], bench.store_node_result(value[0], value[1], item[2], workspace / "results"))))
        return done
    finally:
        ray.shutdown()
