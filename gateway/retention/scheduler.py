"""The retention sweep inside `gateway serve`, and the service's upkeep: every interval until stopped.

Each round first clears what killed processes left (plaintext upload spools, password notices,
markers of notices whose transfer never committed, partial blob files: operations/workarea.py)
and refreshes the home's record of the log's head, then sweeps. The first round runs at start.
With several nodes on one database, every node does its own upkeep (its own work area) but only
the leader sweeps (`gateway.store.leader`): one erasure and one KEK rotation at a time, taken over
by another node at its next round if the leader dies.
"""
from __future__ import annotations

import threading
from datetime import timedelta

from gateway.ledger.log import Event
from gateway.operations import workarea
from gateway.operations.workarea import remove_dead_temporaries
from gateway.retention.sweep import sweep
from gateway.service import Gateway
from gateway.store.leader import Leadership


def upkeep(gw: Gateway) -> workarea.Recovered:
    recovered = workarea.recover(gw)
    recovered.removed += [p.name for p in remove_dead_temporaries(gw.home.blobs)]
    gw.remember_head()
    if recovered.removed or recovered.notices_removed:
        gw.record(Event(action="service.upkeep", channel="system",
                        reason=f"removed what killed processes left: {len(recovered.removed)} files in the work area "
                               f"and blob temporaries, {len(recovered.notices_removed)} notices of transfers that "
                               "never committed"))
    return recovered


class Scheduler(threading.Thread):
    def __init__(self, gw: Gateway, interval: float = 60.0) -> None:
        super().__init__(name="retention", daemon=True)
        self.gw, self.interval = gw, interval
        self.stopping = threading.Event()
        self.leadership = Leadership(gw.engine, "retention")

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                upkeep(self.gw)
            except Exception as err:  # as a failed sweep: logged, retried, never ends the service
                self.gw.record(Event(action="service.upkeep", channel="system", outcome="failed",
                                     reason=f"{type(err).__name__}; retried in {self.interval:.0f} s"))
            try:
                if self.leadership.held():
                    sweep(self.gw, lookahead=timedelta(seconds=self.interval))
            except Exception as err:  # a failed sweep is logged and retried, never ends the service
                self.gw.record(Event(action="retention.sweep", channel="system", outcome="failed",
                                     reason=f"{type(err).__name__}; retried in {self.interval:.0f} s"))
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)
        self.leadership.release()
