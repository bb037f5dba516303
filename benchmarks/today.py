"""The Kurume 2020 approval with its dates moved to today, for benchmarks that run on the real clock.

`gateway-client` signs its receipt with the real time and the gateway refuses a signature dated
ahead of its own clock, so a benchmark that drives the client cannot use a rehearsal home's 2020
clock; and in a production home the server's retention would erase a 2020 package at once.
"""
from __future__ import annotations

import datetime
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def approval_today(approval: str, directory: Path) -> Path:
    """A copy of the shipped approval `approval`, approved yesterday and running for 146 more days."""
    today = datetime.date.today()
    text = (REPO / "gateway" / "data" / "simulations" / "approvals" / f"{approval}.toml").read_text()
    text = re.sub(r"(?m)^(date|start) = 2020-05-07$", lambda m: f"{m[1]} = {today - datetime.timedelta(days=1)}", text)
    text = re.sub(r"(?m)^end = 2020-09-30$", f"end = {today + datetime.timedelta(days=146)}", text)
    # Every round times a VPN hand-over: the copy drops Kurume's "VPN for the set-up only" rule
    # (first_transfer_only), which would refuse the second round's send.
    text = text.replace('first_transfer_only = ["vpn-sftp"]\n', "")
    path = directory / f"{approval}.toml"
    path.write_text(text)
    return path


class Burner:
    """A second CPU-bound process (a Python busy loop) for the `_loaded` figures: started before a
    loaded round and stopped after it, so both sides of a ratio run under the same load."""

    def __init__(self) -> None:
        import subprocess
        import sys

        self._proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])

    def stop(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=10)

    def __enter__(self) -> Burner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
