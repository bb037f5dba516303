"""Key derivations started ahead, in a thread, to overlap work that does not need their result.

scrypt (cryptography, hashlib) and argon2 (argon2-cffi) release the GIL while they compute, so a
derivation started before a long pure-Python pass (validating and minimising a recipient file)
runs on another core meanwhile; a send then waits only for what is left of it.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Background(Generic[T]):
    """``fn(*args)`` running in a daemon thread from now on; ``result()`` waits for it and returns
    its value or raises its exception. Daemon: a refused send exits without waiting for a
    derivation no one needs any more."""

    def __init__(self, fn: Callable[..., T], *args: Any) -> None:
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True,
                                        name=f"background-{getattr(fn, '__name__', 'task')}")
        self._thread.start()

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...]) -> None:
        try:
            self._value = fn(*args)
        except BaseException as err:  # handed to whoever asks for the result
            self._error = err

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]
