"""The `gateway` entry point: a command goes to the home's command server when one runs this very
code and nothing could tell the difference, else it runs here as it always did.

Kept to the standard library and wire.py: everything this module imports is paid by every command.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sys
from typing import Any

from gateway.command_server import wire

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def main() -> None:
    code = through_server(sys.argv[1:])
    if code is None:
        from importlib import import_module  # the command line, loaded only when it runs here

        sys.exit(import_module("gateway.cli").main())
    sys.exit(code)


def through_server(argv: list[str]) -> int | None:
    """The command's exit status, run by the server; None when it must run in this process."""
    if _has_terminal():
        return None
    path = wire.socket_path(_home(argv))
    if not os.path.exists(path):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        wire.send_request(sock, {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ),
                                 "umask": _umask(), "code": wire.code_identity(package)})
        answers = sock.makefile("rb")
        first = _read(answers)
    except OSError:
        sock.close()
        return None  # no server there (a socket left by one that died), or a stream is closed
    if first is None or "pid" not in first:
        sock.close()
        return None  # declined: the server names why in its own log
    pid = int(first["pid"])
    for sig in FORWARDED:
        signal.signal(sig, lambda number, _frame: _forward(pid, number))
    try:
        last = _read(answers)
    finally:
        sock.close()
    if last is None:
        print("コマンドサーバーがコマンドの終了を伝える前に止まりました。コマンドの結果を確認してください。\n"
              "the command server stopped before the command ended; check what the command did.", file=sys.stderr)
        return 1
    if "signal" in last:  # die of it too, as the command's own process did
        number = int(last["signal"])
        if number not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
        return 128 + number
    return int(last["exit"])


def _has_terminal() -> bool:
    """A controlling terminal: a prompt opens /dev/tty, which the server's child cannot reach."""
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        return False
    return True


def _home(argv: list[str]) -> str:
    """The home as gateway.home.Home.resolve picks it: `--home`, else $GATEWAY_HOME, else ./var."""
    chosen = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--home" and i + 1 < len(argv):
            chosen = argv[i + 1]
        elif arg.startswith("--home="):
            chosen = arg.removeprefix("--home=")
    return os.path.abspath(chosen or os.environ.get("GATEWAY_HOME") or "var")


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
