"""Warm workers: each segment is drawn in a process forked from a warm
parent, multiprocessing's forkserver, which imported Manim and the engine
once (PRELOAD), so a render pays for those imports once per process
lifetime instead of once per worker. One job per worker process
(maxtasksperchild=1): a job imports its scene's module afresh from disk, so
an edited scene is seen by the next render. The studio and the build server
(bilicast/buildserver.py) keep the forkserver for their lifetime; a one-off
`render --executor warm` starts one that lives as long as that render.

Nothing outlives a kill -9: the forkserver exits when the pipe from the
process that started it closes, and each worker asks to be killed when the
forkserver dies (lifeline.die_with_parent). On an error or interrupt the
workers are terminated at once, as in local.py."""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import threading
from collections.abc import Iterator
from typing import Any

from ..lifeline import die_with_parent, interrupts_deferred
from . import Executor as Base
from .local import _build_one   # the same job, run in a warm worker

# What a worker imports to draw and finish a segment, imported once in the
# forkserver. Manim (with numpy, cairo, pango, …) is most of it.
PRELOAD = ["manim", "bilicast.animate", "bilicast.scenekit", "bilicast.finish", "bilicast.transitions",
           "bilicast.variants"]


def context():
    """The forkserver context, its preload set (before it first starts)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def start() -> None:
    """Start the forkserver now, so that its imports are done before the
    first render needs a worker (the build server calls this at start)."""
    from multiprocessing import forkserver
    context()
    forkserver.ensure_running()


def _init(env: dict[str, str]) -> None:
    from multiprocessing import forkserver
    die_with_parent()   # the forkserver
    # A worker inherits the write end of the pipe whose closing tells the
    # forkserver that the render's process died: were it kept open, the
    # forkserver would wait on this worker, and this worker on the forkserver.
    server: Any = forkserver._forkserver   # type: ignore[attr-defined]
    if getattr(server, "_forkserver_alive_fd", None) is not None:
        os.close(server._forkserver_alive_fd)
        server._forkserver_alive_fd = None
    # the forkserver's environment is the one it started with; a worker runs in the render's, as a spawned one would
    os.environ.clear()
    os.environ.update(env)


class _Stop:
    def __init__(self) -> None:
        self.stopped = False
        self.waiting: queue.SimpleQueue | None = None   # the queue a build on the thread waits on

    def __call__(self) -> None:
        self.stopped = True
        if self.waiting is not None:
            self.waiting.put(KeyboardInterrupt("stopped"))


_stops: dict[int, _Stop] = {}   # thread id -> its stop, inside stoppable()


@contextlib.contextmanager
def stoppable() -> Iterator[_Stop]:
    """Around a render on a thread other than the main one (where no Ctrl-C
    arrives): yields stop(), which any thread may call to make this thread's
    warm builds raise KeyboardInterrupt, now or when the next one starts,
    terminating their workers (the build server: its client went away)."""
    me = threading.get_ident()
    _stops[me] = stop = _Stop()
    try:
        yield stop
    finally:
        del _stops[me]


class Executor(Base):
    def build(self, todo, finish_here, done, bar):
        pool = None
        events = queue.SimpleQueue()   # (job, seconds) or an error, as each job ends
        stop = _stops.get(threading.get_ident())
        try:
            if stop:
                stop.waiting = events
                if stop.stopped:
                    raise KeyboardInterrupt("stopped")
            workers = max(1, min(self.jobs or os.cpu_count() or 1, len(todo)))
            with interrupts_deferred():   # the pool exists before an interrupt can end it
                pool = context().Pool(workers, initializer=_init, initargs=(dict(os.environ),),
                                      maxtasksperchild=1)
            for job in todo:
                pool.apply_async(_build_one, (job,), callback=events.put, error_callback=events.put)
            finish_here()   # while the workers draw
            for _ in todo:
                got = events.get()
                if isinstance(got, BaseException):
                    raise got
                done(*got)
            pool.close()
        except BaseException:
            if pool:
                pool.terminate()
            raise
        finally:
            if stop:
                stop.waiting = None
            if pool:
                pool.join()
