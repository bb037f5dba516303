"""Byte streams that hash and count what passes through them, so the manifest's SHA-256 describes
exactly the bytes read or written, in the same pass."""
from __future__ import annotations

import hashlib
import io
from typing import BinaryIO


class HashingReader(io.RawIOBase):
    """Reads from ``inner``; ``sha256`` and ``size`` cover every byte handed out."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = self._inner.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self.sha256.update(memoryview(buffer)[:n])
            self.size += n
        return n or 0

    def drain(self) -> None:
        """Hash what the consumer did not read (bytes after the last row)."""
        while chunk := self._inner.read(1 << 16):
            self.sha256.update(chunk)
            self.size += len(chunk)


class HashingWriter(io.RawIOBase):
    """Writes to ``inner``; ``sha256`` and ``size`` cover every byte written."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(data)
        self._inner.write(view)
        self.sha256.update(view)
        self.size += len(view)
        return len(view)


class Prefixed(io.RawIOBase):
    """``head`` and then the rest of ``inner``: bytes already read (peeked) put back in front, or
    a header written after the body it precedes."""

    def __init__(self, head: bytes, inner: io.RawIOBase | BinaryIO) -> None:
        self._head = memoryview(head)
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        return self._inner.readinto(buffer) or 0  # type: ignore[union-attr]
