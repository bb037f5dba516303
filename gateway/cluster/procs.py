"""What every server module needs: free ports, processes in sessions of their own (so that one
signal reaches a server and its children), and a way to tell later, from a state file, whether a
recorded pid is still the process we started (pids are reused)."""
from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


class Missing(RuntimeError):
    """A program the set-up needs is not installed; its text names the Debian or PyPI package
    (`make setup` installs them all)."""


def free_ports(n: int) -> list[int]:
    """`n` distinct ports free on 127.0.0.1 now (all held open together, so none repeats)."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def postgres_user(base: Path) -> list[str]:
    """initdb and PostgreSQL refuse to run as root: as root, they run as the `postgres` system user,
    which then owns `base`."""
    if os.geteuid() != 0:
        return []
    pg = pwd.getpwnam("postgres")
    os.chown(base, pg.pw_uid, pg.pw_gid)
    return ["runuser", "-u", "postgres", "--"]


def spawn(argv: Sequence[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A server in a session of its own, its output appended to `log`: it outlives the command that
    started it (`gateway cluster up` exits, the servers stay) and a Ctrl-C at the terminal does not reach it."""
    with log.open("ab") as out:
        return subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)


def started_at(pid: int) -> int | None:
    """The kernel's start time of `pid` (clock ticks since boot), or None when no such process: with
    the pid, it names one process for good."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie has ended; only its parent has not reaped it yet
        return None
    return int(fields[19])


def alive(pid: int, start: int | None) -> bool:
    """Whether the process recorded as (`pid`, `start`) still runs."""
    now = started_at(pid)
    return now is not None and (start is None or now == start)


def stop(pid: int, start: int | None, grace: float = 15.0, group: bool = True) -> bool:
    """SIGTERM to the process (and its group), SIGKILL after `grace` seconds; True once it is gone.
    A pid that now belongs to another process is left alone."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if not alive(pid, start):
            return True
        try:
            if group:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            return False
        _reap(pid)
        if wait_until(lambda: not alive(pid, start) or _reap(pid), wait):
            return True
    return not alive(pid, start)


def _reap(pid: int) -> bool:
    """Collects `pid` when it is our own child (in the tests), so that it does not linger as a zombie."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == pid
    except ChildProcessError:
        return False


def wait_until(ready: Callable[[], bool], timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if ready():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(every)


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def tail(path: Path, chars: int = 1500) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""
