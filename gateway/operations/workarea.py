"""The private work area (`$GATEWAY_HOME/work`) and what a killed process leaves in it.

Files there are named `<pid>.<token>.<what>` (or `.<pid>...tmp` for atomic writes), so a later
process can tell a dead process's leftovers from a live one's work:
- `.upload`: a portal or SFTP upload being received, encrypted as it arrives under a key that
  lives only in its process's memory (crypto/sealed.py); still counted as sensitive below, since
  one left by a version before that holds a resident file in plaintext;
- `.notice.html`: a portal password notice about to be shown: a passphrase;
- `.payload`, `.csv`: a send's package payload and its name;
- `.pending-notice.json`: a marker naming a password notice written outside the work area (`gateway
  send --notice F`, the hot folder's) for a transfer not yet committed.

`recover` settles the markers first (a notice whose transfer never committed opens nothing and
goes; one whose transfer committed stays), then removes every other file of a dead process. It
runs before every send, when `serve` starts and on its maintenance timer, and from `gateway
doctor --repair`.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from gateway.fsutil import atomic_output, fsync_dir, temporary_owner
from gateway.service import Gateway
from gateway.store import models as m

MARKER = ".pending-notice.json"
# What each leftover holds, for people reading `gateway doctor`.
HOLDS = {".upload": "plaintext upload", ".notice.html": "password notice", ".payload": "package payload",
         ".csv": "recipient file", MARKER: "pending notice marker", ".tmp": "temporary file"}


@dataclass
class Recovered:
    removed: list[str] = field(default_factory=list)  # file names of dead processes' leftovers
    notices_removed: list[str] = field(default_factory=list)  # notices of transfers that never committed
    notices_kept: list[str] = field(default_factory=list)  # notices whose transfer did commit

    def to_json(self) -> dict[str, list[str]]:
        return {"removed": self.removed, "notices_removed": self.notices_removed, "notices_kept": self.notices_kept}


def work_dir(gw: Gateway) -> Path:
    work = gw.home.root / "work"
    work.mkdir(mode=0o700, exist_ok=True)
    return work


def owner_pid(path: Path) -> int | None:
    head = path.name.lstrip(".").split(".", 1)[0]
    return int(head) if head.isdigit() else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale(work: Path) -> list[Path]:
    """The files in `work` that a process no longer running left behind."""
    if not work.is_dir():
        return []
    out = []
    for path in sorted(work.iterdir()):
        pid = owner_pid(path)
        if pid is not None and pid != os.getpid() and not alive(pid):
            out.append(path)
    return out


# What may hold residents' data in plaintext or a passphrase (the rest is ciphertext or bookkeeping).
SENSITIVE = (".upload", ".notice.html", ".csv")


def is_sensitive(path: Path) -> bool:
    name = path.name.removesuffix(".tmp") if path.name.startswith(".") else path.name
    return any(name.endswith(s) or f"{s}." in name for s in SENSITIVE)


def holds(path: Path) -> str:
    return next((what for suffix, what in HOLDS.items() if path.name.endswith(suffix)), "file")


def recover(gw: Gateway) -> Recovered:
    result = Recovered()
    work = work_dir(gw)
    leftovers = stale(work)
    for marker in [p for p in leftovers if p.name.endswith(MARKER)]:
        _settle(gw, marker, result)
    for path in leftovers:
        if path.exists():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            result.removed.append(path.name)
    if leftovers:
        fsync_dir(work)
    return result


def _settle(gw: Gateway, marker: Path, result: Recovered) -> None:
    try:
        body = json.loads(marker.read_text(encoding="utf-8"))
        notice, transfer = Path(body["notice"]), str(body["transfer"])
    except (OSError, ValueError, KeyError, TypeError):
        return  # unreadable: written by a process killed mid-write, before any notice existed
    with gw.read() as session:
        committed = session.get(m.Transfer, transfer) is not None
    if committed:
        result.notices_kept.append(str(notice))
    elif notice.exists():
        notice.unlink()
        fsync_dir(notice.parent)
        result.notices_removed.append(str(notice))


class PendingNotice:
    """A marker for a password notice written before its transfer commits (send.py): removed when
    the transfer committed or the notice was discarded; a dead process's is settled by `recover`."""

    def __init__(self, gw: Gateway, notice: Path, transfer: str) -> None:
        self.path = work_dir(gw) / f"{os.getpid()}.{secrets.token_hex(8)}{MARKER}"
        with atomic_output(self.path) as out:
            out.write(json.dumps({"notice": str(notice.absolute()), "transfer": transfer}).encode("utf-8"))

    def settle(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


ORPHAN_GRACE_SECONDS = 6 * 3600


def remove_dead_temporaries(root: Path) -> list[Path]:
    """Partial blob files (under the blob directory `root`) whose writer is dead (killed
    mid-write), or older than any send can take: ciphertext under a key that was never stored,
    but files that fill the disk. Returns what was removed."""
    cutoff = time.time() - ORPHAN_GRACE_SECONDS
    removed = []
    for path in sorted(root.glob("??/.*.tmp")):
        owner = temporary_owner(path)
        dead = owner is not None and owner != os.getpid() and not alive(owner)
        try:
            old = path.stat().st_mtime < cutoff
        except FileNotFoundError:
            continue
        if dead or old:
            path.unlink(missing_ok=True)
            fsync_dir(path.parent)
            removed.append(path)
    return removed
