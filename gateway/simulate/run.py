"""One scenario being run: what the steps, the fault injection and the synthetic files share."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.clock import FixedClock
from gateway.service import Gateway
from gateway.simulate.desks import Desks
from gateway.simulate.scenario import Scenario
from gateway.simulate.witness import Witness


@dataclass
class Run:
    scenario: Scenario
    out: Path
    gw: Gateway
    clock: FixedClock
    desks: Desks
    population: Path
    witness: Witness
    sweeping: bool = True
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    channels: set[str] = field(default_factory=set)
    echo: Callable[[str], None] = print
