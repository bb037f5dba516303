"""Peak memory of one `gateway` command, measured inside that process (VmHWM at exit).

getrusage's ru_maxrss is no use here: Linux carries the parent's resident set into a forked
child's ru_maxrss across exec, so a command started from pytest would report pytest's own peak.
The command runs under a small launcher that reads /proc/self/status when the process exits.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

LAUNCHER = """
import atexit, json, sys
out = sys.argv[1]
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            with open(out, "w") as f:
                json.dump({"vmhwm_kib": int(line.split()[1])}, f)
atexit.register(peak)
sys.argv = ["gateway", *sys.argv[2:]]
from gateway.cli import main
main()
"""


def peak_rss(tmp: Path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, int]:
    """(the finished command, its peak resident set in bytes)."""
    out = tmp / f"vmhwm-{os.getpid()}-{len(list(tmp.glob('vmhwm-*')))}.json"
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, str(out), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    return proc, json.loads(out.read_text())["vmhwm_kib"] * 1024
