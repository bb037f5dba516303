"""Capturing what one thread prints, while the other threads of the process print as before.

The simulator runs `gateway` commands in-process (one command is then milliseconds, not a second
of interpreter start-up) while the portal and the SFTP server it drives serve in other threads.
`contextlib.redirect_stdout` would swap the process's stdout for all of them; instead, stdout and
stderr are replaced once by proxies that write to this thread's buffer while it captures, and to
the original stream otherwise.
"""
from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

_install = threading.Lock()


class _PerThread(io.TextIOBase):
    def __init__(self, original: TextIO) -> None:
        self.original = original
        self.local = threading.local()

    def _target(self) -> TextIO:
        return getattr(self.local, "buffer", None) or self.original

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return bool(getattr(self._target(), "isatty", lambda: False)())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._target(), "encoding", None) or "utf-8"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)


def _proxy(name: str) -> _PerThread:
    with _install:
        stream = getattr(sys, name)
        if not isinstance(stream, _PerThread):
            stream = _PerThread(stream)
            setattr(sys, name, stream)
        return stream


@contextmanager
def captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """(stdout, stderr) of this thread for the length of the block."""
    out, err = io.StringIO(), io.StringIO()
    proxies = _proxy("stdout"), _proxy("stderr")
    for proxy, buffer in zip(proxies, (out, err), strict=True):
        proxy.local.buffer = buffer
    try:
        yield out, err
    finally:
        for proxy in proxies:
            proxy.local.buffer = None
