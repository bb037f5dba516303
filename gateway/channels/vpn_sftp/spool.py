"""A package on its way out: `operations.receive.download` writes it here in a background thread
while the SFTP client is already reading what has been written.

SFTP reads name an offset (clients keep up to 64 reads in flight, in order, and may re-read), so
the package must be addressable: it goes to an anonymous temporary file in the private work area
(unlinked from the start, so nothing stays after a crash or a disconnect; 0600 either way) and is
read with pread. Memory stays flat whatever the size of the package; decrypting the at-rest copy
overlaps with sending instead of delaying the first byte.

What the client was actually sent is counted (the bytes from offset 0 on, without a gap), and
`delivered()` tells it once the client closed the file: `download()` logs a download complete
only if every byte reached the client, and an interrupted one as what it was. (A download cut
off at 5.7 MB of 44 was once logged as complete: the spool had been filled, not read.)
"""
from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

WAIT = 300.0  # a read waits at most this long for the writer (a stuck disk, not a slow client)
# How long the writer waits for the client to close the file before logging what it got so far:
# a slow line may take hours for a large package; a session that ends closes its files at once.
DELIVERY_WAIT = 24 * 3600.0


class Spool:
    def __init__(self, work: Path) -> None:
        work.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._file = tempfile.TemporaryFile(dir=work, buffering=0)  # raw: pread sees every write
        self._cond = threading.Condition()
        self.filled = 0
        self.done = False
        self.error: BaseException | None = None
        self._closed = False
        self.written = False  # the writer wrote the whole package (it may still be logging)
        self.sent_to = 0  # every byte before this offset was sent to the client
        self._ahead: dict[int, int] = {}  # ranges sent beyond a gap: start -> end

    # -- the writer (download() sees a binary file) -----------------------------------------

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        with self._cond:
            if self._closed:
                # The client closed the file early: let download() finish (it logs the download)
                # without keeping bytes no one will read.
                return len(data)
        while view:
            n = self._file.write(view)
            view = view[n:]
        with self._cond:
            self.filled += len(data)
            self._cond.notify_all()
        return len(data)

    def fill(self, writer: Callable[[Spool], object]) -> threading.Thread:
        """Run `writer(self)` in a thread; `done` and `error` tell how it ended."""

        def run() -> None:
            error: BaseException | None = None
            try:
                writer(self)
            except BaseException as err:  # handed to the reader, who decides what the client sees
                error = err
            with self._cond:
                self.done, self.error = True, error
                self._cond.notify_all()
                if self._closed:
                    self._file.close()

        thread = threading.Thread(target=run, name="sftp-spool", daemon=True)
        thread.start()
        return thread

    # -- the reader ---------------------------------------------------------------------------

    def wait_for(self, end: int) -> bool:
        """Wait until bytes [0, end) are written or the writer ended; False on a time-out."""
        with self._cond:
            return self._cond.wait_for(lambda: self.filled >= end or self.done or self.written, timeout=WAIT)

    def read(self, offset: int, length: int) -> bytes:
        data = os.pread(self._file.fileno(), length, offset)
        self._sent(offset, len(data))
        return data

    def read_into(self, offset: int, view: memoryview) -> int:
        """As `read`, into the caller's buffer (no new one per request); after `wait_for`."""
        end = min(offset + len(view), self.filled)
        if end <= offset:
            return 0
        n = os.preadv(self._file.fileno(), [view[: end - offset]], offset)
        self._sent(offset, n)
        return n

    def _sent(self, offset: int, n: int) -> None:
        if n <= 0:
            return
        with self._cond:
            end = offset + n
            if offset > self.sent_to:
                self._ahead[offset] = max(end, self._ahead.get(offset, end))
                return
            self.sent_to = max(self.sent_to, end)
            while self._ahead:
                start = min(self._ahead)
                if start > self.sent_to:
                    break
                self.sent_to = max(self.sent_to, self._ahead.pop(start))

    def delivered(self) -> tuple[int, int]:
        """(bytes the client got without a gap, the package's size), once the client closed the
        file (or the session ended): what `operations.receive.download` logs."""
        with self._cond:
            self.written = True  # the whole package is in the spool: readers waiting for its end may go on
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._closed, timeout=DELIVERY_WAIT)
            return self.sent_to, self.filled

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            if self.done:
                self._file.close()
