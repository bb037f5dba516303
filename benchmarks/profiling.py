"""Opt-in py-spy profiles for the benchmarks: BENCH_PROFILE=1 (into benchmarks/results/profiles/)
or BENCH_PROFILE=<directory>.

Profiles are taken in an extra pass after the timed rounds, so py-spy's sampling never touches a
figure that goes into a ratio. Each profile is py-spy's raw (collapsed-stack) output, one stack and
its sample count a line, which flamegraph.pl or speedscope can draw; `summarise` condenses one into
where its samples went: importing modules, or the innermost function of `gateway` on the stack
(time spent in libraries and C code is charged to the gateway function that called them).
"""
from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

RATE = 250  # samples per second
PYSPY = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")


def profile_dir() -> Path | None:
    value = os.environ.get("BENCH_PROFILE", "")
    if value in ("", "0"):
        return None
    path = Path(__file__).resolve().parent / "results" / "profiles" if value == "1" else Path(value)
    path.mkdir(parents=True, exist_ok=True)
    return path


def record(out: Path, argv: list[str]) -> list[str]:
    """`argv` run under py-spy, writing raw stacks to `out`."""
    return [PYSPY, "record", "--format", "raw", "--rate", str(RATE), "--nonblocking", "--output", str(out),
            "--", *argv]


class Attached:
    """py-spy attached to a running process (a server) until the block ends."""

    def __init__(self, pid: int, out: Path) -> None:
        self.pid, self.out = pid, out
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "Attached":
        self.proc = subprocess.Popen([PYSPY, "record", "--pid", str(self.pid), "--format", "raw", "--rate", str(RATE),
                                      "--nonblocking", "--output", str(self.out)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _name(frame: str) -> str:
    """'func (gateway/x/y.py:12)' -> 'gateway/x/y.py:func'."""
    func, _, where = frame.partition(" (")
    return f"{where.rsplit(':', 1)[0]}:{func}"


def summarise(raw: Path, top: int = 12) -> dict[str, Any]:
    """Seconds sampled (on CPU: py-spy leaves idle threads out) and the shares of them: importing
    modules, and per innermost gateway function."""
    total = 0
    charged: collections.Counter[str] = collections.Counter()
    if not raw.exists():
        return {"seconds": 0.0, "top": []}
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        n = int(count)
        total += n
        if any("_find_and_load" in f for f in frames):
            charged["(importing modules)"] += n
            continue
        ours = [f for f in frames if " (gateway/" in f]
        charged[_name(ours[-1]) if ours else "(outside gateway: interpreter, click, libraries)"] += n
    if not total:
        return {"seconds": 0.0, "top": []}
    return {"seconds": round(total / RATE, 2),
            "top": [[name, round(n / total, 3)] for name, n in charged.most_common(top)]}
