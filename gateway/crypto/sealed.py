"""A file in the work area that never holds its content in clear: each byte is encrypted as it
arrives, under a key that exists only in this object's memory (issue 19, defect 1: "plaintext
uploads are never written to disk in clear").

An upload (a resident file sent through the portal, a deliverable through the portal or SFTP) is
staged here until the operation that takes it reads it back, once or more, through `open("rb")`,
which decrypts as it reads. The file is an age STREAM payload (64 KiB ChaCha20-Poly1305 chunks,
crypto/age/stream.py) under a fresh random key; at most one chunk of plaintext is in memory. When
the process ends, or the object is dropped, the key is gone and the file left behind is noise,
which `workarea.recover` removes like any leftover of a dead process.

Writes must come in order, each where the last one ended (a stream cipher has no random access):
the portal's body arrives that way, and so do the writes of SFTP clients (`put`); the SFTP inbox
refuses any other.
"""
from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from gateway.crypto.age.stream import PayloadWriter, iter_payload

KEY_BYTES = 32


class SealedFile:
    def __init__(self, path: Path) -> None:
        """Create `path` (owner-only, not there before) and start encrypting into it."""
        self.path = path
        self.size = 0
        # The person's own name for the file (an upload's filename), for messages about it: the
        # staging name is the server's and means nothing to them.
        self.shown_as: str | None = None
        self._key = os.urandom(KEY_BYTES)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_CLOEXEC", 0), 0o600)
        self._out: BinaryIO | None = os.fdopen(fd, "wb", buffering=1 << 20)
        self._writer: PayloadWriter | None = PayloadWriter(self._key, self._out)

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._writer is None:
            raise ValueError("the sealed file was finished")
        self._writer.write(data)
        self.size += len(data)
        return len(data)

    def finish(self) -> None:
        """The last chunk out, flushed and fsynced: the file is whole and can be read back."""
        if self._writer is None:
            return
        assert self._out is not None
        self._writer.finish()
        self._out.flush()
        os.fsync(self._out.fileno())
        self._out.close()
        self._writer = self._out = None

    def open(self, mode: str = "rb") -> BinaryIO:
        """The content in clear, decrypted as it is read (Path's `open`, so that an operation
        reading a path reads a sealed file alike)."""
        if mode != "rb":
            raise ValueError("a sealed file is read with mode 'rb' only")
        self.finish()
        return io.BufferedReader(_Decrypting(self._key, self.path.open("rb")), 1 << 16)

    def discard(self) -> None:
        """Remove the file (whatever was written) and forget the key."""
        if self._out is not None:
            with contextlib.suppress(OSError):
                self._out.close()
        self._writer = self._out = None
        self._key = b""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class _Decrypting(io.RawIOBase):
    """The clear bytes, read front to back; seekable to the start only (readers peek, then
    rewind), which decrypts again from the first chunk."""

    def __init__(self, key: bytes, src: BinaryIO) -> None:
        self._key, self._src = key, src
        self._chunks: Iterator[bytes] = iter_payload(key, src)
        self._pending = memoryview(b"")
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR and offset == 0 or whence == io.SEEK_SET and offset == self._position:
            return self._position
        if whence != io.SEEK_SET or offset != 0:
            raise io.UnsupportedOperation("a sealed file is read front to back, or again from its start")
        self._src.seek(0)
        self._chunks = iter_payload(self._key, self._src)
        self._pending = memoryview(b"")
        self._position = 0
        return 0

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self._position += n
        return n

    def close(self) -> None:
        self._src.close()
        super().close()
