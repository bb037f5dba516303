"""The longest line a recipient file may have, enforced on the bytes as they are read.

Every reader of a recipient file holds a whole line (and, through decoding and parsing, several
copies of it) before it can check it: an 80 MB line took the portal from 151 MB to 1.03 GB. This
stream sits under the decoder and refuses a line the moment it grows past the limit, naming its
row and the column it had reached, so that memory is bounded by the limit, never by the input.

Rows are counted as physical lines (the header is row 1), as the reader's other byte-level errors
are; the column is the one the line had reached, counting commas outside double quotes.
"""
from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

from gateway.core.records.errors import RecordFileError

DEFAULT_MAX_LINE_BYTES = 64 * 1024  # settings: [records] max_line_bytes
_SEPARATORS = re.compile(rb'[",]')


class LineBound(io.RawIOBase):
    """Reads `inner`; raises RecordFileError once any line is longer than `limit` bytes.
    `headers()` gives the file's column headers once they are known (to name the column)."""

    def __init__(self, inner: BinaryIO | io.RawIOBase, limit: int, path: Any,
                 headers: Callable[[], Sequence[str]] = tuple) -> None:
        self._inner = inner
        self._limit = limit
        self._path = path
        self._headers = headers
        self.line = 1  # the physical line being read, 1-based
        self._length = 0  # bytes of that line so far
        self._column = 0  # separators (commas outside quotes) in it so far
        self._quoted = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        # At most `limit` bytes a read: a line that lies wholly inside one read is then within the
        # limit, and only the lines a read starts and ends in need counting (no scan per line).
        view = memoryview(buffer)[: self._limit]
        n = self._inner.readinto(view) or 0  # type: ignore[union-attr]
        if n:
            self._account(bytes(view[:n]))
        return n

    def _account(self, data: bytes) -> None:
        first = data.find(b"\n")
        if first < 0:  # the line goes on
            self._grow(data)
            return
        self._grow(data[:first])
        last = data.rfind(b"\n")
        self.line += data.count(b"\n")
        self._length, self._column, self._quoted = 0, 0, False
        self._grow(data[last + 1:])

    def _grow(self, part: bytes) -> None:
        if not part:
            return
        over = self._length + len(part) > self._limit
        counted = part[: self._limit - self._length + 1] if over else part
        for m in _SEPARATORS.finditer(counted):
            if m.group() == b'"':
                self._quoted = not self._quoted
            elif not self._quoted:
                self._column += 1
        self._length += len(part)
        if over:
            raise self._error()

    def _error(self) -> RecordFileError:
        headers = list(self._headers()) if self.line > 1 else []
        column = (headers[self._column] if self._column < len(headers) else f"{self._column + 1}列目 / column {self._column + 1}") \
            if self.line > 1 else None
        return line_too_long(self._path, self._limit, row=self.line, column=column)


def line_too_long(path: Any, limit: int, *, row: int | None = None, column: str | None = None) -> RecordFileError:
    """The refusal of a line longer than ``limit`` bytes, wherever a reader finds one."""
    return RecordFileError(
        path,
        f"行が長すぎます（{limit:,} バイトまで）。改行が抜けているか、区切りや引用符が誤っていないか確認して、"
        "出力し直してください。",
        f"the line is too long (at most {limit:,} bytes); check for a missing line break or a wrong "
        "separator or quote, and export the file again.",
        row=row, column=column,
    )
