"""The `gateway` entry point: a command goes to the home's command server when one runs this very
code and nothing could tell the difference, else it runs here as it always did.

Kept to the standard library, wire.py and home.py: everything this module imports is paid by every
command.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sys
from typing import Any

from gateway.command_server import wire
from gateway.home import Home

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
# Commands that run as their own process even where a server runs: the services and the server.
RUN_HERE = frozenset({"serve", "hotfolder", "cluster", "command-server"})


def main() -> None:
    code = through_server(sys.argv[1:])
    if code is None:
        from importlib import import_module  # the command line, loaded only when it runs here

        sys.exit(import_module("gateway.cli").main())
    sys.exit(code)


def through_server(argv: list[str]) -> int | None:
    """The command's exit status, run by the server; None when it must run in this process."""
    if _runs_here(argv):
        return None
    path = wire.socket_path(_home(argv))
    if not os.path.exists(path):
        return None
    # Signals wait until they can be forwarded: one that came before the child's pid is known
    # would kill this client alone, and the server would then kill the command with SIGKILL.
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    try:
        return _through(path, argv)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)


def _through(path: str, argv: list[str]) -> int | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if sock.fileno() in wire.STREAMS:  # a standard stream was closed: the socket took its number
        sock.close()
        return None
    try:
        sock.connect(path)
        if wire.peer_uid(sock) != os.geteuid():  # someone else's socket: tell it nothing
            sock.close()
            return None
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        wire.send_request(sock, {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ),
                                 "umask": _umask(), "code": wire.code_identity(package)})
    except OSError:
        sock.close()
        return None  # no server there (a socket left by one that died); nothing was sent
    answers = sock.makefile("rb")
    try:
        first = _read(answers)
    except (OSError, ValueError):
        first = None
    if first is not None and "declined" in first:
        sock.close()
        return None  # the server names why in its own log
    if first is None or "pid" not in first:
        sock.close()
        return _lost()  # the server may have started it: running it here too could do it twice
    pid = int(first["pid"])
    for sig in FORWARDED:
        signal.signal(sig, lambda number, _frame: _forward(pid, number))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
    try:
        last = _read(answers)
    except (OSError, ValueError):
        last = None
    finally:
        sock.close()
    if last is None:
        return _lost()
    if "signal" in last:  # die of it too, as the command's own process did
        number = int(last["signal"])
        if number not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(number, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [number])
        os.kill(os.getpid(), number)
        return 128 + number
    return int(last["exit"])


def _lost() -> int:
    print("コマンドサーバーがコマンドの終了を伝える前に止まりました。コマンドが何をしたか確認してください"
          "（gateway log）。\nthe command server stopped before the command ended; check what the command did "
          "(gateway log).", file=sys.stderr)
    return 1


def _runs_here(argv: list[str]) -> bool:
    """What the server must not run: a command that may prompt (a controlling terminal: a prompt
    opens /dev/tty, which a forked child cannot reach), and the long-running services, which need
    their own process under their own unit (hardening, limits, systemd's NOTIFY_SOCKET)."""
    if os.environ.get("NOTIFY_SOCKET") or not RUN_HERE.isdisjoint(argv):
        return True
    for fd in wire.STREAMS:
        try:
            os.fstat(fd)
        except OSError:
            return True  # a closed standard stream: nothing to hand over
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        return False
    return True


def _home(argv: list[str]) -> str:
    """The home the command names (`--home`, else as Home.resolve picks it)."""
    chosen = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--home" and i + 1 < len(argv):
            chosen = argv[i + 1]
        elif arg.startswith("--home="):
            chosen = arg.removeprefix("--home=")
    return str(Home.resolve(chosen).root)


def _umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _read(answers: Any) -> dict[str, Any] | None:
    line = answers.readline()
    return json.loads(line) if line else None


def _forward(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass
