"""Files that appear complete or not at all, and owner-only secrets (DESIGN.md conventions).

One place for the rule every writer follows: a temporary name in the target directory, fsync,
os.replace, fsync of the directory; mode 0600 because what we write is personal data or keys.
"""
from __future__ import annotations

import contextlib
import io
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_BUFFER = 1024 * 1024
# Start writeback every few MiB instead of leaving a whole package dirty for the final fsync:
# the disk works while we write, and a 1 GB file does not crowd the page cache.
_WRITEBACK_WINDOW = 8 * 1024 * 1024


class _DurableWriter(io.RawIOBase):
    def __init__(self, fd: int) -> None:
        self._file = os.fdopen(fd, "wb", buffering=_BUFFER)
        self._written = 0
        self._flushed_to = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        n = self._file.write(data)
        self._written += n
        if self._written - self._flushed_to >= _WRITEBACK_WINDOW:
            self._file.flush()
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(self._file.fileno(), self._flushed_to, self._written - self._flushed_to,
                                 os.POSIX_FADV_DONTNEED)
            self._flushed_to = self._written
        return n

    def commit(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()
        super().close()


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file that becomes `path` when the block ends without an exception; on any
    exception (KeyboardInterrupt included) the temporary file is removed and `path` is untouched."""
    target = Path(path).absolute()
    _require_folder(target)
    temp = target.parent / f".{target.name}.{os.getpid()}-{secrets.token_hex(8)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        with _DurableWriter(fd) as out:
            yield out  # type: ignore[misc]
            out.commit()
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    fsync_dir(target.parent)


class AtomicFile(io.RawIOBase):
    """A file written under a temporary name that becomes `path` only on `commit()` (fsync,
    rename, fsync of the directory); `discard()` removes it. For a writer that must know the file
    is complete before it says so (a download is logged only once its file exists whole)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.target = Path(path).absolute()
        _require_folder(self.target)
        self.temp = self.target.parent / f".{self.target.name}.{os.getpid()}-{secrets.token_hex(8)}.tmp"
        fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        self._out = _DurableWriter(fd)
        self.size = 0
        self.committed = False

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        n = self._out.write(data)
        self.size += n
        return n

    def commit(self) -> None:
        self._out.commit()
        self._out.close()
        os.replace(self.temp, self.target)
        fsync_dir(self.target.parent)
        self.committed = True

    def discard(self) -> None:
        if not self.committed:
            self._out.close()
            with contextlib.suppress(FileNotFoundError):
                self.temp.unlink()


def temporary_owner(path: Path) -> int | None:
    """The pid of the process that was writing `path`, an `atomic_output` temporary; None if the
    name is not one."""
    name = path.name
    if not (name.startswith(".") and name.endswith(".tmp")):
        return None
    pid, sep, _ = name[:-len(".tmp")].rpartition(".")[2].partition("-")
    return int(pid) if sep and pid.isdigit() else None


def write_secret(path: Path, data: bytes) -> None:
    """Create an owner-only file; never replace one that exists (O_EXCL), never follow a link."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(path.parent)


def _require_folder(target: Path) -> None:
    """A person's -o into a folder that is not there is told so, not a traceback."""
    if not target.parent.is_dir():
        from gateway.errors import Invalid

        raise Invalid(f"出力先のフォルダがありません: {target.parent}。フォルダを作るか、別の出力先を指定してください。",
                      f"the output folder does not exist: {target.parent}; create it or choose another output.")
