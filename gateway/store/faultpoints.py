"""Named points at which a crash test kills the process, to prove each step is safe to die in.

`GATEWAY_FAULT_POINT=<name>` makes the process SIGKILL itself when it reaches that point: no
clean-up, no flush, as a power cut or the OOM killer would leave it. Unset (always, outside the
tests), reaching a point costs one environment lookup.
"""
from __future__ import annotations

import os
import signal

ENV = "GATEWAY_FAULT_POINT"


def reached(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
