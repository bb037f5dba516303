"""The portal's CPU-bound work (a send: validating, minimising and encrypting a resident file) runs
in threads, at most one per core at once; the rest wait their turn with their uploads staged.

Sixteen sends at once in sixteen threads of the default pool did not finish sooner than one
after another would: their pure-Python passes share one interpreter lock, and each pulled its
scrypt derivation and verifier into memory early. Bounded to the cores, each send that runs keeps
a core busy with its pass while its derivations take the other, and the event loop keeps
receiving the bodies still arriving.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request

T = TypeVar("T")
SLOTS = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


async def run(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a worker thread, once one of the app's CPU slots is free."""
    state = request.app.state
    limiter = getattr(state, "cpu_limiter", None)
    if limiter is None:  # made in the loop that serves the app (anyio's limiters belong to one)
        limiter = state.cpu_limiter = anyio.CapacityLimiter(SLOTS)
    return await anyio.to_thread.run_sync(functools.partial(fn, *args), limiter=limiter)
