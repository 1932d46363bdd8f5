"""Child processes die with their parent: pool workers, demo workers and
ffmpeg all ask Linux to SIGKILL them when the process that started them dies
(even by kill -9, when no cleanup code can run). SIGTERM becomes a clean
interrupt in the main process.

`fault(point)` is the fault-injection hook of the tests: when the environment
says BILICAST_KILL_AT=<point>, the bilicast process is killed with SIGKILL at
that point (from a worker, its parent is), as a crash or `kill -9` would.
With BILICAST_PAUSE_AT=<point>[,<point>…] a process reaching one says so on
the Unix socket BILICAST_PAUSE_SOCKET and waits there until the test answers
"go" (or, if it never does, until it is killed): a test interrupts a render
at a known point, or holds two runs at once, instead of guessing when.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Run in a child (a pool initializer, or a subprocess's preexec_fn):
    SIGKILL it when its parent dies."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:   # the parent died before we asked
        os._exit(1)


def terminate_as_interrupt() -> None:
    """In the main process: SIGTERM unwinds like Ctrl-C, so pools are
    terminated and temp files removed on the way out."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, handler)


@contextlib.contextmanager
def interrupts_deferred():
    """Ctrl-C or SIGTERM arriving inside the block takes effect when it ends:
    a worker pool interrupted while it starts its workers leaves a half-fed
    child behind (it dies with an EOFError traceback) and no pool to end.
    Off the main thread (the studio's work thread), where no signal
    arrives, it defers nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in signals}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if caught:
        raise KeyboardInterrupt(f"signal {caught[0]}")


def fault(point: str) -> None:
    """Test hook: kill -9 the bilicast process here, or wait here, when asked to."""
    if point in os.environ.get("BILICAST_PAUSE_AT", "").split(","):
        _pause(point)
    if os.environ.get("BILICAST_KILL_AT") != point:
        return
    marker = os.environ.get("BILICAST_KILL_MARKER")
    if marker:   # fire once: the rerun in the same environment goes through
        if os.path.exists(marker):
            return
        open(marker, "w").close()
    main = int(os.environ.get("BILICAST_MAIN_PID", os.getpid()))
    os.kill(main, signal.SIGKILL)
    if main != os.getpid():
        signal.pause()   # a worker carries on only until the parent-death signal arrives


def _pause(point: str) -> None:
    import socket
    with socket.socket(socket.AF_UNIX) as announce:
        announce.connect(os.environ["BILICAST_PAUSE_SOCKET"])
        announce.sendall(f"{os.getpid()} {point}\n".encode())
        if announce.recv(16).startswith(b"go"):
            return
    while True:   # not released: until the test's interrupt ends this process
        signal.pause()


class InBackground:
    """fn(*args) on a daemon thread (the audio is mixed and encoded while the
    segments render: ffmpeg and numpy leave the GIL free); result() waits
    and returns its value or raises its error. A daemon, so an interrupted
    render does not wait for it (its ffmpeg dies with this process)."""

    def __init__(self, fn, *args):
        self._value = self._error = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
        self._thread.start()

    def _run(self, fn, args):
        try:
            self._value = fn(*args)
        except BaseException as e:   # handed to result(), in the main thread
            self._error = e

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value
