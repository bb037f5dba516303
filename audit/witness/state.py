"""What the witness has cosigned: the latest head per log origin, stored durably.

A witness that forgets what it cosigned can be made to cosign a fork, so a new head is on disk
before any cosignature for it leaves the process: written to a temporary file, fsynced, renamed
over the old one, and the directory fsynced. A crash at any point leaves either the old head or
the new one, never a torn file and never an older head than one that was answered.

Layout of the state directory (mode 0700):
  lock                      held (flock) while a witness serves from this directory
  logs/<sha256(origin)>.json  {"origin", "size", "root" (base64), "checkpoint" (the note text), "updated_at"}
  refused/<...>.txt         signed checkpoints that were refused as inconsistent: evidence of a log's
                            misbehaviour (tlog-witness allows keeping them), at most MAX_REFUSED files
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from audit.note import NoteError, b64, b64decode_strict

MAX_STATE_FILE = 256 << 10
MAX_REFUSED = 1000


class StateError(Exception):
    pass


@dataclass(frozen=True)
class Head:
    origin: str
    size: int
    root: bytes
    checkpoint: str  # the note text that was cosigned (no signatures)
    updated_at: int


class State:
    """The heads of every log this witness follows; one process per directory (flock)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.logs = directory / "logs"
        self.refused = directory / "refused"
        for d in (directory, self.logs, self.refused):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock_fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise StateError(f"another witness is serving from {directory}") from None
        self._heads: dict[str, Head] = {}
        self._guard = threading.Lock()
        self._origin_locks: dict[str, threading.Lock] = {}
        for path in sorted(self.logs.glob("*.json")):
            head = _read_head(path)
            if path.name != _file_name(head.origin):
                raise StateError(f"{path} holds origin {head.origin!r}, which belongs in another file")
            self._heads[head.origin] = head

    def close(self) -> None:
        os.close(self._lock_fd)

    def lock(self, origin: str) -> threading.Lock:
        """The lock that makes check-then-store atomic for one log (tlog-witness's race)."""
        with self._guard:
            return self._origin_locks.setdefault(origin, threading.Lock())

    def head(self, origin: str) -> Head | None:
        return self._heads.get(origin)

    def store(self, head: Head) -> None:
        """Durably replace the origin's head; only then is it the witness's view."""
        data = json.dumps({"origin": head.origin, "size": head.size, "root": b64(head.root),
                           "checkpoint": head.checkpoint, "updated_at": head.updated_at},
                          ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"
        _write_durably(self.logs / _file_name(head.origin), data)
        self._heads[head.origin] = head

    def keep_refused(self, origin: str, reason: str, body: bytes, now: int) -> None:
        """Keep a signed but inconsistent checkpoint as evidence; bounded, best effort by design."""
        if sum(1 for _ in self.refused.iterdir()) >= MAX_REFUSED:
            return
        name = f"{now}-{_file_name(origin)[:16]}-{hashlib.sha256(body).hexdigest()[:16]}.txt"
        _write_durably(self.refused / name, f"# {reason}\n".encode() + body)


def _file_name(origin: str) -> str:
    # Origins are URLs with '/' in them; a hash is a safe, fixed-length file name.
    return hashlib.sha256(origin.encode("utf-8")).hexdigest() + ".json"


def _read_head(path: Path) -> Head:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_STATE_FILE + 1)
        if len(data) > MAX_STATE_FILE:
            raise StateError(f"{path} is too large")
        value = json.loads(data)
        head = Head(value["origin"], value["size"], b64decode_strict(value["root"]), value["checkpoint"],
                    value["updated_at"])
    except (OSError, ValueError, KeyError, TypeError, NoteError) as exc:
        raise StateError(f"{path} cannot be read as a witness head ({type(exc).__name__}: {exc}); "
                         "restore it from a backup: a witness must not forget what it cosigned") from None
    if type(head.origin) is not str or type(head.size) is not int or head.size < 0 or len(head.root) != 32 \
            or type(head.checkpoint) is not str or type(head.updated_at) is not int:
        raise StateError(f"{path} is not a well-formed witness head")
    return head


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
