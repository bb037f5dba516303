"""Run one `gateway` command exactly as its console script does, timing named functions inside it.

    BENCH_STAGES='[["gateway.crypto.age", "encrypt_file", "encrypt"], ...]' \
    BENCH_STAGES_OUT=/tmp/stages.json  python benchmarks/stagetimer.py send FILE --approval ...

Each [module, attribute, stage] wraps `module.attribute` (a dotted attribute such as
"Class.method" names a method) with a timer that adds its wall time to `stage`; several functions
may share a stage. Wrappers only add two perf_counter() calls per call, and the functions wrapped
are called per file or per 2,048-row block, so the timing does not disturb what is timed. When the
command exits, the totals (seconds per stage, plus "script", the time from the start of this
script to the exit) are written as JSON to BENCH_STAGES_OUT. The benchmark times the process from
outside as well; what no stage covers is interpreter start-up, imports, opening the database and
exit.
"""
from __future__ import annotations

import atexit
import functools
import importlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

_STARTED = time.perf_counter()


def _timed(fn: Callable[..., Any], stage: str, totals: dict[str, float]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[stage] = totals.get(stage, 0.0) + time.perf_counter() - t0
    return timed


def main() -> None:
    totals: dict[str, float] = {}
    for module, attribute, stage in json.loads(os.environ.get("BENCH_STAGES", "[]")):
        owner: Any = importlib.import_module(module)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        setattr(owner, name, _timed(getattr(owner, name), stage, totals))
    out = os.environ.get("BENCH_STAGES_OUT")
    if out:
        def write() -> None:
            totals["script"] = time.perf_counter() - _STARTED
            Path(out).write_text(json.dumps(totals))
        atexit.register(write)
    from gateway.cli import main as gateway_main

    sys.argv = ["gateway", *sys.argv[1:]]
    sys.exit(gateway_main())


if __name__ == "__main__":
    main()
