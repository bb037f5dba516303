"""The memory bound of reading a recipient file, measured on the worst inputs (README, "Bounded memory").

    .venv/bin/python benchmarks/reader_memory.py [--limits 65536,1048576,16777216] [--long-mb 80]

For each `[records] max_line_bytes`, `gateway check` (a fresh process each time; its peak resident
set is VmHWM read inside it at exit) reads:
- one line just under the limit, quote-free (the line scanner's way) and quoted (csv.reader's),
  the largest line that gets past the bound and into the parsers;
- one line far over it (`--long-mb`), refused while it is read;
- a file of many lines each just under the limit.
Prints one JSON object: the process's baseline, and each case's peak in MiB.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.reliability.memory import LAUNCHER  # noqa: E402

GATEWAY = [sys.executable, "-c", LAUNCHER]
IN_PERIOD = "2020-06-01T10:00:00+09:00"


def run(tmp: Path, env: dict[str, str], *args: str) -> tuple[int, float]:
    out = tmp / "vmhwm.json"
    proc = subprocess.run([*GATEWAY, str(out), *args], capture_output=True, text=True, env=env)
    return proc.returncode, json.loads(out.read_text())["vmhwm_kib"] / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limits", default="65536,1048576,16777216")
    ap.add_argument("--long-mb", type=int, default=80)
    args = ap.parse_args()
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="reader-memory-") as name:
        tmp = Path(name)
        env = {**os.environ, "GATEWAY_HOME": str(tmp / "home"), "GATEWAY_FAKE_NOW": IN_PERIOD}
        env.pop("GATEWAY_DB_URL", None)
        run(tmp, env, "init", "--rehearsal")
        run(tmp, env, "approval", "add", str(REPO / "gateway" / "data" / "simulations" / "approvals" / "kurume-2020-teigaku.toml"))
        sample = tmp / "sample.csv"
        run(tmp, env, "generate", "recipients", "--count", "3", "--schema", "kurume-2020", "-o", str(sample))
        header = sample.read_bytes().split(b"\n", 1)[0] + b"\n"
        check = ("check", "--approval", "kurume-2020-teigaku", "--recipient", "chikugo-print", "--profile", "vpn-sftp")
        small = tmp / "small.csv"
        small.write_bytes(sample.read_bytes())
        results["baseline_mib"] = round(run(tmp, env, check[0], str(small), *check[1:])[1], 1)
        settings = tmp / "home" / "gateway.toml"
        base = settings.read_text() if settings.exists() else ""
        for limit in (int(x) for x in args.limits.split(",")):
            settings.write_text(base + f"\n[records]\nmax_line_bytes = {limit}\n")
            cases = {
                "line_at_limit_plain": header + b"x" * (limit - 1) + b"\n",
                "line_at_limit_quoted": header + b'"' + b"y" * (limit - 3) + b'"\n',
                "many_lines_at_limit": header + (b"z" * (limit - 1) + b"\n") * max(1, (64 << 20) // limit),
                f"line_of_{args.long_mb}_mb": header + b"w" * (args.long_mb << 20) + b"\n",
            }
            row: dict[str, object] = {}
            for case, data in cases.items():
                path = tmp / f"{case}.csv"
                path.write_bytes(data)
                code, peak = run(tmp, env, check[0], str(path), *check[1:])
                row[case] = {"exit": code, "peak_mib": round(peak, 1)}
                path.unlink()
            results[f"max_line_bytes={limit}"] = row
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
