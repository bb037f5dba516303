"""A package read ahead in a thread of its own while the consumer is busy elsewhere.

The consumer of a downloaded package first derives the passphrase's scrypt key from its header
(about a second of CPU at work factor 18) and only then reads the payload: without this the
download stood still for that second, its TCP or SFTP window full. Here the bytes keep coming
while the key is derived (scrypt releases the GIL), into a bounded queue, so at most
`MAX_AHEAD` bytes of ciphertext wait in memory: the download and the derivation overlap, as a
person running `sftp get` and then `age -d` cannot.
"""
from __future__ import annotations

import io
import queue
import threading
from typing import BinaryIO

CHUNK = 1024 * 1024
MAX_AHEAD = 64 * CHUNK


class ReadAhead(io.RawIOBase):
    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self._chunks: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=MAX_AHEAD // CHUNK)
        self._stop = threading.Event()
        self._left = memoryview(b"")
        self._done = False
        self._thread = threading.Thread(target=self._fill, name="package-read-ahead", daemon=True)
        self._thread.start()

    def _fill(self) -> None:
        try:
            while not self._stop.is_set():
                chunk = self._inner.read(CHUNK)
                self._put(chunk)
                if not chunk:
                    return
        except BaseException as err:  # handed to the consumer, who raises it where it reads
            self._put(err)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._chunks.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if not self._left:
            if self._done:
                return 0
            item = self._chunks.get()
            if isinstance(item, BaseException):
                self._done = True
                raise item
            if not item:
                self._done = True
                return 0
            self._left = memoryview(item)
        n = min(len(buffer), len(self._left))
        memoryview(buffer)[:n] = self._left[:n]
        self._left = self._left[n:]
        return n

    def close(self) -> None:
        """Stops the thread before the source is closed under it (the caller closes the source)."""
        if not self.closed:
            self._stop.set()
            self._thread.join(timeout=30)
        super().close()
