"""`bilicast studio SCRIPT`: the episode live in the browser while the
creator writes it (docs/studio.md).

One process: a Starlette app served by uvicorn on 127.0.0.1 (the page,
its state as JSON and as Server-Sent Events, the bundle's files), a
watcher (watchfiles) on the script and the folders that shape the episode,
and one work thread that validates, plans and renders what changed, at
preview size, in warm workers (executors/warm.py), under the build
server's lock (buildserver.py: `bilicast render` elsewhere uses the same
warm workers through a Unix socket in .cache/).

Safety: loopback unless --host; a random token that every request needs
off loopback and every request that changes something needs anyway; the
Host header checked (DNS rebinding); files served only from the output
folder, the workspace's assets/ and the page's own folder (a path or
symlink leading out of them is a 404); one studio per workspace (a lock)."""
from __future__ import annotations

import asyncio
import contextlib
import datetime
import fcntl
import ipaddress
import json
import os
import queue
import re
import secrets
import socket
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO, Any

from .buildserver import BuildServer, fresh_workspace_modules
from .errors import StageError, UserError
from .yamlsource import ScriptProblems

PAGE = Path(__file__).parent / "studio_page"
WATCHED = ("scenes", "demos", "results", "templates", "takes", "assets", "charts", "transitions", "variants")
LOG_LINES = 40


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class StudioLock:
    """One studio per workspace: an flock on .cache/studio.lock, and
    .cache/studio.json saying where the studio that holds it runs."""

    def __init__(self, workspace: Path):
        self.cache = workspace / ".cache"
        self.file: IO | None = None

    def acquire(self) -> None:
        self.cache.mkdir(parents=True, exist_ok=True)
        self.file = held = open(self.cache / "studio.lock", "w")
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held.close()
            self.file = None
            try:
                where = json.loads((self.cache / "studio.json").read_text(encoding="utf-8"))
                at = f"at {where['url']} (pid {where['pid']})"
            except (OSError, ValueError, KeyError):
                at = "(it is starting)"
            raise UserError(f"a studio already runs for this workspace {at}; open that one, or stop it first") \
                from None

    def announce(self, url: str) -> None:
        info = self.cache / "studio.json"
        info.write_text(json.dumps({"url": url, "pid": os.getpid()}), encoding="utf-8")
        info.chmod(0o600)   # the URL holds the token

    def release(self) -> None:
        with contextlib.suppress(OSError):
            (self.cache / "studio.json").unlink()
        if self.file:
            self.file.close()


class Studio:
    """The page's state and the work that changes it."""

    def __init__(self, script: Path, workspace: Path, out: Path, quality: str = "preview", tiny: bool = False):
        self.script, self.workspace, self.out = script, workspace, out
        self.quality, self.tiny = quality, tiny
        self.state: dict[str, Any] = {
            "script": str(script.relative_to(workspace)) if script.is_relative_to(workspace) else str(script),
            "episode": None, "quality": quality, "status": "starting", "generation": 0, "error": None,
            "progress": None, "segments": [], "preview": None, "timeline": None, "numbers": [], "legibility": [],
            "listening": {}, "bench": {}, "full": {"state": "idle", "bundles": [], "progress": None, "error": None},
            "log": []}
        self.version = 0
        self._lock = threading.Lock()
        self._work: queue.Queue = queue.Queue()
        self._rebuild_queued = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self.render_lock = threading.Lock()   # replaced by the build server's, so CLI renders take turns with ours
        self.executor = "local"

    # ---- state, shared with the event loop ----
    def update(self, **changes: Any) -> None:
        with self._lock:
            self.state.update(changes)
            self.version += 1
        if self._loop:
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        assert self._changed is not None
        self._changed.set()
        self._changed = asyncio.Event()

    def snapshot(self) -> dict:
        with self._lock:
            return json.loads(json.dumps(self.state))

    def log(self, line: str) -> None:
        print(f"studio: {line}", file=sys.stderr)
        with self._lock:
            self.state["log"] = (self.state["log"] + [f"{time.strftime('%H:%M:%S')} {line}"])[-LOG_LINES:]
        self.update()

    def segment_state(self, segment: str, state: str) -> None:
        with self._lock:
            segments = [dict(s, state=state, reasons=[] if state == "built" else s["reasons"])
                        if s["id"] == segment else s for s in self.state["segments"]]
            progress = self.state["progress"]
            if state == "built" and progress:
                progress = {**progress, "done": progress["done"] + 1}
        self.update(segments=segments, progress=progress)

    # ---- the work thread: one thing at a time ----
    def request(self, kind: str, arg: str | None = None) -> None:
        if kind == "rebuild":
            with self._lock:
                if self._rebuild_queued:   # a burst of saves: one rebuild
                    return
                self._rebuild_queued = True
        self._work.put((kind, arg))

    def work_forever(self) -> None:
        while True:
            kind, arg = self._work.get()
            try:
                with fresh_workspace_modules():   # an edited scene is read anew, here and in the workers
                    self.do(kind, arg)
            except Exception as e:   # the studio keeps serving whatever a job does
                self.log(f"{kind} failed: {e}")
                traceback.print_exc()

    def do(self, kind: str, arg: str | None) -> None:
        if kind == "rebuild":
            with self._lock:
                self._rebuild_queued = False
            self.rebuild()
        elif kind == "full":
            self.render_full()
        elif kind == "bench":
            self.run_bench(str(arg))
        elif kind == "listen":
            self.listen(str(arg))

    def load(self):
        """The episode, or None with the validation error shown (the last preview stays)."""
        from .episode import load_episode
        try:
            episode = load_episode(self.script)
        except ScriptProblems as e:
            self.update(status="invalid", error=self.invalid(e))
            self.log(f"{self.state['script']}: invalid ({len(e.problems)} problem(s))")
            return None
        except UserError as e:
            self.update(status="invalid", error={"kind": "invalid", "text": str(e), "problems": [], "context": []})
            self.log(str(e))
            return None
        return episode

    def invalid(self, e: ScriptProblems) -> dict:
        first = e.problems[0]
        try:   # the file the first problem is in: the script, or channel.yaml
            lines = Path(first.file or e.path).read_text(encoding="utf-8").splitlines()
        except OSError:
            lines = []
        lo, hi = max(1, first.line - 3), min(len(lines), first.line + 3)
        return {"kind": "invalid", "text": e.format().replace(str(self.script), self.state["script"]),
                "problems": [{"line": p.line, "column": p.column, "where": p.where, "message": p.message,
                              "hint": p.hint, "file": Path(p.file or e.path).name} for p in e.problems],
                "context": [{"line": n, "text": lines[n - 1], "marked": n == first.line} for n in range(lo, hi + 1)]}

    def variants(self, episode) -> list[str]:
        declared = episode.script.episode.variants
        return ["main"] if "main" in declared else [declared[0]]

    def rebuild(self) -> None:
        """Validate, plan, render what changed (preview size unless --quality full), show it."""
        from .render import dry_run, render_episode
        started = time.monotonic()
        episode = self.load()
        if episode is None:
            return
        preview = self.quality == "preview"
        variants = self.variants(episode)
        with self.render_lock:
            facts = dry_run(episode, self.out, preview=preview, variants=variants, with_targets=False)[0]
            bounds = {s["segment"]: (s["start"], s["end"]) for s in self._timeline_segments(facts, episode)}
            segments = [{"id": f["id"], "scene": seg.scene, "state": f["state"], "reasons": f.get("reasons", []),
                         "start": bounds.get(f["id"], (0, 0))[0], "end": bounds.get(f["id"], (0, 0))[1]}
                        for f, seg in zip(facts["segments"], episode.script.segments)]
            todo = sum(f["state"] == "build" for f in facts["segments"])
            self.update(episode=episode.script.episode.id, status="building", error=None, segments=segments,
                        generation=self.state["generation"] + 1,
                        progress={"done": 0, "total": todo} if todo else None)
            self.log(f"render {self.state['generation']}: {todo} segment(s) to build")
            try:
                report = render_episode(episode, self.out, preview=preview, variants=variants,
                                        executor=self.executor, notify=lambda s, job: self.segment_state(job.segment, s))
            except (StageError, UserError) as e:
                segment = re.search(r"segment '([^']+)'", str(e))
                if segment:
                    self.segment_state(segment.group(1), "failed")
                self.update(status="failed", progress=None, error={
                    "kind": "failed", "text": str(e), "log": getattr(e, "log", "")[-6000:],
                    "segment": segment and segment.group(1)})
                self.log(f"render failed: {e}")
                return
        drew = f"; Manim drew {report.animated}" if report.rebuilt else ""   # 0: finishing alone (a watermark, a line)
        self.log(f"render {self.state['generation']}: done in {time.monotonic() - started:.1f} s "
                 f"({', '.join(report.rebuilt) or 'nothing rebuilt'}{drew})")
        self.show(report.out_dirs[0], report.jobs[0], episode)

    def _timeline_segments(self, facts: dict, episode) -> list[dict]:
        bundle = self.out / episode.script.episode.id / facts["variant"] / "timeline.json"
        try:
            return json.loads(bundle.read_text(encoding="utf-8"))["segments"]
        except (OSError, ValueError, KeyError):
            return []

    def show(self, bundle: Path, jobs: list, episode) -> None:
        """The page's view of a fresh bundle: the preview, timeline, numbers, legibility."""
        from .plan import BUNDLE_STAMP
        timeline = json.loads((bundle / "timeline.json").read_text(encoding="utf-8"))
        key = json.loads((bundle / BUNDLE_STAMP).read_text(encoding="utf-8"))["key"][:16]
        rel = bundle.relative_to(self.out).as_posix()
        bounds = {s["segment"]: (s["start"], s["end"]) for s in timeline["segments"]}
        with self._lock:
            segments = [dict(s, start=bounds[s["id"]][0], end=bounds[s["id"]][1],
                             state="cached" if s["state"] in ("cached", "build") else s["state"])
                        for s in self.state["segments"] if s["id"] in bounds]
        width, height = (jobs[0].width, jobs[0].height) if jobs else (0, 0)
        self.update(status="ready", progress=None, error=None, segments=segments, timeline=timeline,
                    preview={"video": f"/out/{rel}/video.mp4?v={key}", "storyboard": f"/out/{rel}/storyboard.png?v={key}",
                             "key": key, "variant": bundle.name, "width": width, "height": height,
                             "bundle": str(bundle), "rendered_at": datetime.datetime.now().isoformat(timespec="seconds")},
                    numbers=numbers_trace(bundle), legibility=legibility(jobs, episode),
                    bench={k: self.state["bench"].get(k, {"demo": e.demo, "state": "idle", "progress": "", "error": None})
                           for k, e in episode.script.bench.items()})

    def render_full(self) -> None:
        from .render import chosen_variants, render_episode
        episode = self.load()
        if episode is None:
            self.update(full={"state": "failed", "bundles": [], "progress": None, "error": "the script is invalid"})
            return
        from .render import dry_run
        variants = chosen_variants(episode, "all")
        todo = sum(f["state"] == "build" for facts in dry_run(episode, self.out, False, variants, with_targets=False)
                   for f in facts["segments"])
        self.update(full={"state": "running", "bundles": [], "error": None, "progress": {"done": 0, "total": todo}})

        def built(state: str, job) -> None:
            if state == "built":
                with self._lock:
                    full = dict(self.state["full"])
                full["progress"] = {**full["progress"], "done": full["progress"]["done"] + 1}
                self.update(full=full)
        with self.render_lock:
            try:
                report = render_episode(episode, self.out, preview=False, variants=variants,
                                        executor=self.executor, notify=built)
            except (StageError, UserError) as e:
                self.update(full={"state": "failed", "bundles": [], "progress": None, "error": str(e)})
                return
        self.update(full={"state": "done", "bundles": [str(d) for d in report.out_dirs], "progress": None,
                          "error": None})
        self.log(f"full-quality render done: {', '.join(str(d) for d in report.out_dirs)}")

    def run_bench(self, key: str) -> None:
        """Re-run one bench entry (its result lands in results/: the watcher then re-renders what shows it)."""
        from . import bench
        from .script import load_script
        registry = bench.DemoRegistry(self.workspace)
        entry = load_script(self.script, demos=registry, workspace=self.workspace).bench[key]

        def bench_state(**kw):
            with self._lock:
                now = dict(self.state["bench"])
            now[key] = {**now.get(key, {"demo": entry.demo}), **kw}
            self.update(bench=now)
        bench_state(state="running", progress="starting", error=None)
        done = threading.Event()
        log = bench.result_path(self.workspace / "results", entry.demo,
                                registry.effective_params(entry.demo, entry.params, self.tiny), self.tiny)
        started = time.monotonic()

        def progress() -> None:   # the demo's log's last line, every second (a UI, not a test)
            while not done.wait(1.0):
                try:
                    last = log.with_suffix(".log").read_text(encoding="utf-8").strip().splitlines()[-1:]
                except OSError:
                    last = []
                bench_state(progress=f"{time.monotonic() - started:.0f} s" + (f": {last[0][:80]}" if last else ""))
        threading.Thread(target=progress, daemon=True).start()
        try:
            bench.run_demo(registry, entry.demo, entry.params, self.workspace / "results", tiny=self.tiny, force=True)
            bench_state(state="done", progress=f"measured in {time.monotonic() - started:.0f} s")
        except (StageError, UserError) as e:
            bench_state(state="failed", error=str(e))
        finally:
            done.set()

    def listen(self, segment: str) -> None:
        """The listening check on one segment's lines of the preview bundle."""
        from .listen import check_speech
        preview = self.state["preview"]
        listening = dict(self.state["listening"])
        if not preview:
            listening[segment] = {"state": "failed", "lines": [], "error": "no preview yet"}
            self.update(listening=listening)
            return
        listening[segment] = {"state": "running", "lines": [], "error": None}
        self.update(listening=listening)
        try:
            scores = check_speech(Path(preview["bundle"]), segment=segment)
            result = {"state": "done", "error": None, "lines": [
                {"line": s.line, "text": s.text, "heard": s.heard, "cer": round(s.cer, 3), "flagged": s.flagged}
                for s in scores]}
        except (StageError, UserError) as e:
            result = {"state": "failed", "lines": [], "error": str(e)}
        listening = dict(self.state["listening"])
        listening[segment] = result
        self.update(listening=listening)


def numbers_trace(bundle: Path) -> list[dict]:
    """numbers.json's rows, each with its results' provenance and date."""
    try:
        rows = json.loads((bundle / "numbers.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    for row in rows:
        for source in row.get("sources", []):
            try:
                prov = json.loads(Path(source["file"]).read_text(encoding="utf-8")).get("provenance", {})
            except (OSError, ValueError):
                continue
            row.setdefault("measured_at", prov.get("date"))
            row.setdefault("provenance", {k: prov.get(k) for k in ("machine", "cpu", "cores", "tensorflow", "litert")})
    return rows


def legibility(jobs: list, episode) -> list[dict]:
    """The legibility rules on each segment's final picture (the texts its
    animation recorded)."""
    from . import legible, variants
    from .contracts import AnimationRecord
    found = []
    for job in jobs:
        try:
            texts = AnimationRecord.read(job.raw).texts
        except (OSError, ValueError, KeyError):
            continue
        frame = variants.get(job.variant, episode.workspace).frame(job.width, job.height)
        for problem in legible.problems(texts, job.width, job.height, frame.subtitle_top,
                                        danmaku_bottom=frame.danmaku_bottom,
                                        layout_style=job.style.get("layout", "standard"), scene=job.scene_name):
            found.append({"segment": job.segment, "problem": problem})
        for stamp in job.stamps:   # the watermark (over the whole segment) must not cover the scene's text
            if stamp.until is None and "watermarks" in Path(stamp.png).parts and Path(stamp.png).is_file():
                from PIL import Image

                from .watermark import covered_texts
                with Image.open(stamp.png) as im:
                    covered = covered_texts((stamp.x, stamp.y, im.width, im.height), texts)
                if covered:
                    found.append({"segment": job.segment, "problem": f"the watermark covers {covered[0]!r}: "
                                  "choose another corner (watermark.corner in channel.yaml)"})
    return found


# ---- the web side ----

def make_app(studio: Studio, token: str, allowed_hosts: set[str], open_reads: bool):
    """The Starlette app. open_reads: GETs need no token (loopback)."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
    from starlette.routing import Route

    def authorized(request: Request) -> bool:
        given = request.headers.get("x-studio-token") or request.query_params.get("token") or ""
        return secrets.compare_digest(given, token)

    class Guard:
        """Host header (DNS rebinding) and token checks before anything."""
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            if scope["type"] == "http":
                request = Request(scope)
                if request.headers.get("host", "") not in allowed_hosts:
                    await PlainTextResponse("unknown Host", status_code=400)(scope, receive, send)
                    return
                public = request.method == "GET" and request.url.path.startswith("/static/")   # the page's code
                if (request.method != "GET" or not open_reads) and not public and not authorized(request):
                    await JSONResponse({"error": "this needs the studio's token (the URL it printed)"},
                                       status_code=403)(scope, receive, send)
                    return
            await self.app(scope, receive, send)

    def confined(root: Path, rel: str) -> Response:
        """A file under root, or 404: no traversal, no symlink out of it."""
        base = root.resolve()
        try:
            path = (base / rel).resolve()
        except (OSError, RuntimeError):
            return PlainTextResponse("not found", status_code=404)
        if not path.is_relative_to(base) or not path.is_file():
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(path)

    async def index(request: Request) -> Response:
        return FileResponse(PAGE / "index.html")

    async def static(request: Request) -> Response:
        return confined(PAGE, request.path_params["path"])

    async def out_file(request: Request) -> Response:
        return confined(studio.out, request.path_params["path"])

    async def asset(request: Request) -> Response:
        return confined(studio.workspace / "assets", request.path_params["path"])

    async def state(request: Request) -> Response:
        return JSONResponse(studio.snapshot())

    async def events(request: Request) -> Response:
        async def stream():
            seen = -1
            while True:
                if studio.version != seen:
                    seen = studio.version
                    yield f"event: state\ndata: {json.dumps(studio.snapshot(), ensure_ascii=False)}\n\n"
                assert studio._changed is not None
                try:
                    await asyncio.wait_for(studio._changed.wait(), timeout=15)
                except asyncio.TimeoutError:
                    yield ": keep-alive\n\n"
        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def post(request: Request) -> Response:
        kind, arg = request.path_params["kind"], request.path_params.get("arg")
        if kind == "render" and arg == "full":
            studio.request("full")
        elif kind == "bench" and arg in studio.state["bench"]:
            studio.request("bench", arg)
        elif kind == "listen" and arg in {s["id"] for s in studio.state["segments"]}:
            studio.request("listen", arg)
        else:
            return JSONResponse({"error": f"nothing to do for {kind}/{arg}"}, status_code=404)
        return JSONResponse({"ok": True}, status_code=202)

    routes = [Route("/", index), Route("/static/{path:path}", static), Route("/out/{path:path}", out_file),
              Route("/assets/{path:path}", asset), Route("/api/state", state), Route("/api/events", events),
              Route("/api/{kind}/{arg}", post, methods=["POST"])]
    return Starlette(routes=routes, middleware=[Middleware(Guard)])


async def watch(studio: Studio, stop: asyncio.Event) -> None:
    """Re-render on every change to what shapes the episode; a burst of
    saves (an editor's write, rename and chmod; five saves in a row) is one
    change."""
    import watchfiles
    ws = studio.workspace.resolve()
    paths = [p for p in {studio.script.parent, *(ws / d for d in WATCHED)} if p.is_dir()]
    script = studio.script.resolve()

    def relevant(change, path: str) -> bool:
        p = Path(path)
        if (p.name.startswith(".") or p.name.endswith("~") or p.suffix in (".swp", ".tmp", ".lock", ".log")
                or any(part == "__pycache__" or part.endswith(".files") for part in p.parts)):
            return False   # editors' and our own scratch files, a bench's log and work folder
        # the script itself (its folder is watched for it alone), and what is in the watched folders
        return p == script or any(p.is_relative_to(ws / d) for d in WATCHED)

    async def follow(folders, recursive: bool, keep) -> None:
        async for _ in watchfiles.awatch(*folders, watch_filter=keep, debounce=800, step=150, stop_event=stop,
                                         recursive=recursive):
            studio.request("rebuild")

    # channel.yaml sits at the workspace's root, which is watched without its subfolders (.venv, out, .cache)
    await asyncio.gather(follow(paths, True, relevant),
                         follow([ws], False, lambda change, path: Path(path).name == "channel.yaml"))


def serve(script: Path, host: str = "127.0.0.1", port: int = 8765, quality: str = "preview", out: Path | None = None,
          tiny: bool = False) -> int:
    import uvicorn

    from .workspace import find_workspace
    if not script.is_file():
        raise UserError(f"{script}: no such script")
    workspace = find_workspace(script)
    script = script.resolve()
    out = (out or workspace / "out").resolve()
    sys.dont_write_bytecode = True   # two saves of a scene in one second must not meet a stale .pyc
    lock = StudioLock(workspace)
    lock.acquire()
    try:
        sock = socket.socket(socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), port))
        except OSError as e:
            raise UserError(f"cannot listen on {host}:{port} ({e.strerror}); pick another --port") from None
        sock.listen(128)   # connections wait from now on, before uvicorn takes the socket
        port = sock.getsockname()[1]
        token = secrets.token_urlsafe(16)
        shown = f"[{host.strip('[]')}]" if ":" in host.strip("[]") else host
        url = f"http://{shown}:{port}/?token={token}"
        allowed = {f"{h}:{port}" for h in ("127.0.0.1", "localhost", "[::1]", shown)}
        studio = Studio(script, workspace, out, quality, tiny)
        studio.executor = "warm"   # forked from a parent that has Manim loaded (executors/warm.py)
        build_server: BuildServer | None = None
        try:
            started = BuildServer(workspace)
            started.start()   # `bilicast render` elsewhere in this workspace uses our warm workers
            studio.render_lock, build_server = started.lock, started
        except UserError as e:
            print(f"studio: no build server ({e}); `bilicast render` will use its own workers", file=sys.stderr)
            build_server = None
        app = make_app(studio, token, allowed, open_reads=is_loopback(host))
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        worker = threading.Thread(target=studio.work_forever, name="studio-work", daemon=True)

        async def main() -> None:
            studio._loop = asyncio.get_running_loop()
            studio._changed = asyncio.Event()
            stop = asyncio.Event()
            watcher = asyncio.create_task(watch(studio, stop))
            worker.start()
            studio.request("rebuild")
            lock.announce(url)
            print(f"studio: {url}", flush=True)
            print(f"studio: watching {studio.state['script']} and the workspace's folders; Ctrl-C stops it",
                  file=sys.stderr)
            try:
                await server.serve(sockets=[sock])
            finally:
                stop.set()
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(watcher, 2)
        try:
            asyncio.run(main())
        finally:
            if build_server:
                build_server.stop()
        return 0
    finally:
        lock.release()
