"""The submitter `gateway serve` runs beside the channels: it sends every new checkpoint to the
witnesses, whichever process wrote it, and retries a witness that failed with a growing delay.

It polls the checkpoints table (other processes, the command line among them, write checkpoints
too), keeps one keep-alive connection per witness, and backs off per witness: 1 s after the first
failure, doubling to `[witness] backoff_max_seconds`, so a witness that is down is asked about
once every few minutes and one that comes back catches up within one round.
"""
from __future__ import annotations

import logging
import threading

from gateway.clock import monotonic
from gateway.errors import GatewayError
from gateway.service import Gateway
from gateway.witnessing.protocol import Connection
from gateway.witnessing.submit import active_witnesses, submit_pending

_log = logging.getLogger("gateway.witnessing")

FIRST_BACKOFF = 1.0


class Submitter:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.stopping = threading.Event()
        self.wake = threading.Event()  # set by whoever wrote a checkpoint and wants it sent now
        self._thread: threading.Thread | None = None
        self._connections: dict[int, Connection] = {}
        self._retry_at: dict[int, float] = {}
        self._backoff: dict[int, float] = {}

    def start(self) -> Submitter:
        self._thread = threading.Thread(target=self._run, name="witness-submitter", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.gw.settings.witness.timeout_seconds + 10)
        for conn in self._connections.values():
            conn.close()

    def _run(self) -> None:
        poll = self.gw.settings.witness.poll_seconds
        while not self.stopping.is_set():
            try:
                self.round()
            except GatewayError as err:  # the database busy or unavailable: try again next round
                _log.warning("witness submitter: %s", err.en)
            except Exception:  # noqa: BLE001 - the thread must outlive one bad round; say what broke
                _log.exception("witness submitter: a round failed")
            self.wake.wait(poll)
            self.wake.clear()

    def round(self) -> None:
        settings = self.gw.settings.witness
        now = monotonic()
        for witness in active_witnesses(self.gw):
            if self.stopping.is_set():
                return
            if self._retry_at.get(witness.id, 0.0) > now:
                continue
            outcomes = submit_pending(self.gw, until=monotonic() + settings.round_seconds, only=witness.id,
                                      connections=self._connections)
            for outcome in outcomes:
                if outcome.error is not None:
                    _log.warning("witness %s (%s): %s", outcome.witness, outcome.url, outcome.error)
            if all(outcome.error is None for outcome in outcomes):
                self._retry_at.pop(witness.id, None)
                self._backoff.pop(witness.id, None)
            else:
                delay = min(self._backoff.get(witness.id, FIRST_BACKOFF / 2) * 2, settings.backoff_max_seconds)
                self._backoff[witness.id] = delay
                self._retry_at[witness.id] = monotonic() + delay
