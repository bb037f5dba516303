"""Spare a finished command the interpreter's clean-up walks over everything it imported.

As it exits, CPython runs the cyclic garbage collector again and again while it tears the modules
down, each time over every object the imports made (SQLAlchemy's, the ORM's, cryptography's): 0.08
to 0.1 s of every `gateway` process, measured (benchmarks/bench_handover.py counts three such
processes in a hand-over). At exit the garbage is collected once, so nothing that is garbage
misses its finaliser (a file not yet flushed included), and what is left is frozen: it is still
released by reference counting as the modules go; only the collector's walks over it are skipped.
"""
from __future__ import annotations

import atexit
import gc

_installed = False


def _collect_then_freeze() -> None:
    gc.collect()
    gc.freeze()


def install() -> None:
    """Once per process, from a command-line entry point (not from a library or a server)."""
    global _installed
    if not _installed:
        atexit.register(_collect_then_freeze)
        _installed = True
