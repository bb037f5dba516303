"""Output files that appear complete or not at all.

The temporary file lives in the target directory (so os.replace is a rename on one filesystem),
is created 0600 with O_EXCL, and is removed on any failure, including KeyboardInterrupt.
"""
from __future__ import annotations

import contextlib
import io
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_BUFFER = 1024 * 1024
# Start writeback every few MiB instead of leaving a whole package dirty for the final fsync:
# the disk works while we decrypt, and a 1 GB file does not crowd the page cache.
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


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    target = Path(path)
    directory = target.parent
    temp = directory / f".{target.name}.{secrets.token_hex(8)}.tmp"
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
    _fsync_dir(directory)
