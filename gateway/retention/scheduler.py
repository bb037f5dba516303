"""The retention sweep inside `gateway serve`: runs every interval until stopped."""
from __future__ import annotations

import threading
from datetime import timedelta

from gateway.ledger.log import Event
from gateway.retention.sweep import sweep
from gateway.service import Gateway


class Scheduler(threading.Thread):
    def __init__(self, gw: Gateway, interval: float = 60.0) -> None:
        super().__init__(name="retention", daemon=True)
        self.gw, self.interval = gw, interval
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                sweep(self.gw, lookahead=timedelta(seconds=self.interval))
            except Exception as err:  # a failed sweep is logged and retried, never ends the service
                self.gw.record(Event(action="retention.sweep", channel="system", outcome="failed",
                                     reason=f"{type(err).__name__}; retried in {self.interval:.0f} s"))
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)
