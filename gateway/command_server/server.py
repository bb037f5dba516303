"""The warm parent: imports the gateway once, then forks one child per client's command.

One thread, one selector: the listening socket, each running command's pidfd (readable when the
child exits) and its client's connection (readable when the client hangs up). A client that dies
mid-command takes its command with it, SIGKILL as if it had been the command's own process (every
step is safe to die in: the crash battery). The server forks with no thread but its own running,
and a child closes everything of the server's before it runs its command.
"""
from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import io
import os
import pkgutil
import selectors
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from gateway.command_server import wire
from gateway.errors import Conflict

# Never imported ahead: what runs servers, this package's own client, and the migration scripts
# (Alembic loads those itself, inside its own context).
NOT_PRELOADED = ("gateway.command_server.client", "gateway.cli.serve", "gateway.cluster", "gateway.store.migrations")


@dataclass
class Command:
    """What a forked child runs, in the client's place."""

    argv: list[str]
    run: Callable[[list[str]], int]

    def run_and_exit(self) -> NoReturn:
        code = 1
        try:
            code = self.run(self.argv)
        except BaseException:  # noqa: BLE001 - what a fresh interpreter does with it
            traceback.print_exc()
        finally:
            try:
                _finish()
            finally:
                os._exit(code)


def _finish() -> None:
    """The end of a fresh interpreter without its teardown. Tearing down the modules would write
    to every preloaded object's reference count and so copy most of the server's memory into this
    child (a tenth of a second); what the teardown would do for the command is done here: its
    threads joined, its atexit functions run, its unreachable objects finalised, and every file
    it left open flushed (text layers before the buffers under them)."""
    threading._shutdown()  # type: ignore[attr-defined]  # what the interpreter does first: wakes idle pool workers, joins threads
    atexit._run_exitfuncs()
    gc.collect()
    # Objects made since the fork: the preloaded ones are frozen, out of get_objects()' sight.
    opened = [o for o in gc.get_objects() if isinstance(o, io.IOBase)]
    for kind in (io.TextIOBase, io.BufferedIOBase, io.RawIOBase):
        for stream in opened:
            if isinstance(stream, kind):
                with contextlib.suppress(Exception):
                    if not stream.closed and stream.writable():
                        stream.flush()
    for std in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            std.flush()


@dataclass
class _Running:
    pid: int
    pidfd: int
    conn: socket.socket


@dataclass
class CommandServer:
    path: Path
    run: Callable[[list[str]], int]
    code: str
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)
    _running: dict[int, _Running] = field(default_factory=dict)
    _stop: bool = False
    _inode: int | None = None  # the socket file this server made: only that one is removed
    # How a fresh interpreter made its standard streams here (encoding, errors): a child's are
    # made alike (the client's locale is the server's: wire.code_identity).
    _streams: dict[str, tuple[str, str]] = field(default_factory=lambda: {
        name: (getattr(sys, f"__{name}__").encoding, getattr(sys, f"__{name}__").errors)
        for name in ("stdin", "stdout", "stderr")})

    def serve(self, ready: Callable[[], None] = lambda: None) -> Command | None:
        """Until SIGTERM or SIGINT. Returns None in the server when it stops; in a forked child,
        the command to run in the client's place."""
        parent = os.getpid()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.path.parent, 0o700)
        if self.path.exists() or self.path.is_symlink():
            _refuse_if_live(self.path)
            self.path.unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        saved = {sig: signal.signal(sig, self._stopping) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            listener.bind(str(self.path))
            os.chmod(self.path, 0o600)
            self._inode = os.stat(self.path).st_ino
            listener.listen(64)
            listener.setblocking(False)
            with selectors.DefaultSelector() as sel:
                sel.register(listener, selectors.EVENT_READ, "accept")
                ready()
                while not self._stop or self._running:
                    for key, _ in sel.select(timeout=0.5):
                        if key.data == "accept":
                            command = self._accept(listener, sel)
                            if command is not None:  # in the child: everything of the server goes
                                sel.close()
                                listener.close()
                                return command
                        elif key.data[0] == "exited":
                            self._exited(key.data[1], sel)
                        else:
                            self._hung_up(key.data[1])
                    if self._stop and listener.fileno() != -1:
                        sel.unregister(listener)
                        listener.close()
                        self._remove(parent)
            return None
        finally:
            if os.getpid() == parent:
                listener.close()
                self._remove(parent)
                for sig, handler in saved.items():
                    signal.signal(sig, handler)

    def _stopping(self, *_: Any) -> None:
        if self._stop:  # asked twice: the commands still running are asked to stop too
            for pid in self._running:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        self._stop = True

    def _remove(self, parent: int) -> None:
        """The socket file, unless it is no longer ours (a new server's, started while this one
        drained)."""
        if os.getpid() == parent and self._inode is not None:
            with contextlib.suppress(FileNotFoundError):
                if os.stat(self.path).st_ino == self._inode:
                    self.path.unlink()
            self._inode = None

    def _accept(self, listener: socket.socket, sel: selectors.BaseSelector) -> Command | None:
        try:
            conn, _ = listener.accept()
        except OSError:  # gone before it was accepted, or out of descriptors: the client retries
            return None
        conn.setblocking(True)
        try:
            uid = wire.peer_uid(conn)
            if uid != os.geteuid():
                self._declined(conn, [], f"a client of uid {uid} (this server runs as {os.geteuid()})")
                return None
            request, fds = wire.receive_request(conn)
        except (OSError, ValueError) as err:
            self._declined(conn, [], f"unreadable request ({err})")
            return None
        reason = self._decline(request)
        if reason is not None:
            self._declined(conn, fds, reason)
            return None
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        go_read, go_write = os.pipe()
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, (signal.SIGTERM, signal.SIGINT))
        pid = os.fork()
        if pid == 0:
            os.close(go_write)
            self._become_command(conn, request, fds)
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            # Nothing of the command runs before the server can watch it (below).
            started = os.read(go_read, 1)
            os.close(go_read)
            if started != b"1":
                os._exit(1)
            return Command([str(a) for a in request["argv"]], self.run)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        os.close(go_read)
        _close(fds)
        try:
            pidfd = os.pidfd_open(pid)
        except OSError as err:
            os.close(go_write)  # the child ends without running anything
            os.waitpid(pid, 0)
            self._declined(conn, [], f"cannot watch a child ({err.strerror})")
            return None
        os.write(go_write, b"1")
        os.close(go_write)
        self._running[pid] = _Running(pid, pidfd, conn)
        sel.register(pidfd, selectors.EVENT_READ, ("exited", pid))
        sel.register(conn, selectors.EVENT_READ, ("hung-up", pid))
        _try_answer(conn, pid=pid)
        return None

    def _declined(self, conn: socket.socket, fds: list[int], reason: str) -> None:
        """Every way a request ends without a child: said to the client, which then runs the
        command itself (and only then: anything else might mean the command ran)."""
        self.log(f"declined: {reason}")
        _close(fds)
        _try_answer(conn, declined=reason)
        conn.close()

    def _decline(self, request: dict[str, Any]) -> str | None:
        if self._stop:
            return "the server is stopping"
        if request.get("code") != self.code:
            return "the code changed since the server started (upgrade or edit): restart `gateway command-server`"
        argv, env = request.get("argv"), request.get("env")
        if not (isinstance(argv, list) and isinstance(env, dict) and isinstance(request.get("cwd"), str)
                and isinstance(request.get("umask"), int)):
            return "malformed request"
        return None

    def _exited(self, pid: int, sel: selectors.BaseSelector) -> None:
        running = self._running.pop(pid)
        sel.unregister(running.pidfd)
        sel.unregister(running.conn)
        os.close(running.pidfd)
        _, status = os.waitpid(pid, 0)
        # Logged before the client hears of it: whoever waits for the client can read the line.
        if os.WIFSIGNALED(status):
            self.log(f"command {pid}: signal {os.WTERMSIG(status)}")
            _try_answer(running.conn, signal=os.WTERMSIG(status))
        else:
            self.log(f"command {pid}: exit {os.waitstatus_to_exitcode(status)}")
            _try_answer(running.conn, exit=os.waitstatus_to_exitcode(status))
        running.conn.close()

    def _hung_up(self, pid: int) -> None:
        running = self._running.get(pid)
        if running is None:  # it exited in the same round, and was answered already
            return
        try:
            gone = running.conn.recv(4096) == b""  # a client says nothing more: anything else is dropped
        except OSError:
            gone = True
        if gone:  # the client died: its command dies as its own process would have
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _become_command(self, conn: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
        """In the forked child: the client's streams, directory, environment and umask; none of
        the server's sockets, pidfds or signal handlers."""
        os.setsid()  # neither the server's process group nor its terminal, if it has one
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for running in self._running.values():
            os.close(running.pidfd)
            running.conn.close()
        self._running.clear()
        conn.close()
        for target, fd in zip(wire.STREAMS, fds, strict=True):
            os.dup2(fd, target)
        _close(fds)
        os.umask(request["umask"])
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request["env"].items()})
        time.tzset()  # what the C library derived from the server's TZ, derived again from the client's
        tempfile.tempdir = None  # likewise TMPDIR, should anything have asked for it before the fork
        sys.argv = ["gateway", *map(str, request["argv"])]
        _reopen_standard_streams(self._streams)


def preload(packages: Iterable[str] = ("gateway",)) -> list[str]:
    """Imports every module of ``packages`` but NOT_PRELOADED, then moves what they made out of
    the collector's way (gc.freeze), so that children share those pages instead of copying them
    when a collection touches them. Returns the modules that would not import (named, skipped)."""
    failed = []
    for name in packages:
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, f"{name}."):
            if info.name.startswith(NOT_PRELOADED) or info.name.endswith("__main__"):
                continue
            try:
                importlib.import_module(info.name)
            except Exception as err:  # noqa: BLE001 - a module that needs what is absent is loaded by its command
                failed.append(f"{info.name}: {err}")
    gc.collect()
    gc.freeze()
    if threading.active_count() != 1:
        raise RuntimeError("a preloaded module started a thread: forking would copy it half-done")
    return failed


def _reopen_standard_streams(made: dict[str, tuple[str, str]]) -> None:
    """Text streams over the client's descriptors, made as a fresh interpreter made the server's
    (``made``: encoding and errors per stream; the locale that decides them is the client's too),
    buffered as it buffers them (line by line on a terminal, stderr always)."""
    for name, fd, mode in (("stdin", 0, "r"), ("stdout", 1, "w"), ("stderr", 2, "w")):
        tty = os.isatty(fd)
        encoding, errors = made[name]
        raw = open(fd, mode + "b", closefd=False)  # noqa: SIM115 - the stream lives as long as the command
        stream = io.TextIOWrapper(raw, encoding=encoding, errors=errors, newline="\n",
                                  line_buffering=tty or name == "stderr")
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _refuse_if_live(path: Path) -> None:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        return  # left by a server that died: replaced
    finally:
        probe.close()
    raise Conflict(f"コマンドサーバーは既に {path} で動いています。",
                   f"a command server already listens on {path}.")


def _try_answer(conn: socket.socket, **fields: Any) -> None:
    try:
        wire.answer(conn, **fields)
    except OSError:
        pass  # the client is gone; nothing to tell


def _close(fds: Iterable[int]) -> None:
    for fd in fds:
        os.close(fd)
