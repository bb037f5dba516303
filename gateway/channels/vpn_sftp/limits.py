"""Per-source throttles for the SFTP server: failed logins lock a source for a while
(`brute-force`), connections are capped per source and in all, and a package open for download
is capped across all sessions (each open one may hold a decrypting thread and a spool file).

Kept in memory on one node: a restart forgets a lock, which only gives an attacker back the few
attempts a lock allows, and needs no database write per failed packet. Several nodes on one
PostgreSQL share the source lock through the database (lockout.py); the connection caps stay each
node's own, as the threads they protect are. What a flood does is logged once per
source per minute, so the flood cannot turn into a flood of log entries.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

from gateway.channels.vpn_sftp.lockout import SharedLockout
from gateway.settings import SftpSettings

LOG_EVERY = 60.0
ASK_EVERY = 1.0


@dataclass
class Limits:
    max_failures: int = 10  # failed logins within failure_window that lock the source
    failure_window: float = 600.0
    lockout: float = 900.0
    max_connections: int = 10  # open at once from one source
    max_total: int = 200  # open at once in all: each holds a thread
    max_opens_per_transfer: int = 4  # one package open for download at once, in all sessions
    _failures: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _locked_until: dict[str, float] = field(default_factory=dict)
    _open: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _logged: dict[tuple[str, str], float] = field(default_factory=dict)
    _opens: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    shared: SharedLockout | None = None  # the source lock of all nodes, in the database
    _asked: dict[str, float] = field(default_factory=dict)  # when the database was last asked, per source

    @classmethod
    def of(cls, settings: SftpSettings, shared: SharedLockout | None = None) -> Limits:
        return cls(max_failures=settings.max_failures, failure_window=float(settings.failure_window_seconds),
                   lockout=float(settings.lockout_seconds), max_connections=settings.max_connections,
                   max_total=settings.max_total, shared=shared)

    def locked(self, source: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if self._locked_until.get(source, 0.0) > now:
                return True
            # Another node's lock, asked at most once a second per source: a flood of connections
            # from one address does not become a flood of queries.
            if self.shared is None or self._asked.get(source, -ASK_EVERY) > now - ASK_EVERY:
                return False
            self._asked[source] = now
        remaining = self.shared.locked_for(source)
        if remaining:
            with self._lock:
                self._locked_until[source] = now + remaining
        return remaining > 0

    def failed(self, source: str) -> bool:
        """Count a failed login; True when this one locks the source."""
        now = time.monotonic()
        if self.shared is not None:
            locks_for = self.shared.failed(source, max_failures=self.max_failures, window=self.failure_window,
                                           lockout=self.lockout)
            if locks_for:
                with self._lock:
                    self._locked_until[source] = now + locks_for
            return locks_for > 0
        with self._lock:
            q = self._failures[source]
            q.append(now)
            while q and q[0] < now - self.failure_window:
                q.popleft()
            if len(q) >= self.max_failures and self._locked_until.get(source, 0.0) <= now:
                self._locked_until[source] = now + self.lockout
                q.clear()
                return True
            return False

    def connect(self, source: str) -> bool:
        """Take a connection slot; False when the source or the server is at its cap."""
        with self._lock:
            if self._open[source] >= self.max_connections or sum(self._open.values()) >= self.max_total:
                return False
            self._open[source] += 1
            return True

    def disconnect(self, source: str) -> None:
        with self._lock:
            self._open[source] -= 1
            if self._open[source] <= 0:
                del self._open[source]

    def open_package(self, transfer: str) -> bool:
        """Take one of a package's download slots; False when it is open as often as allowed."""
        with self._lock:
            if self._opens[transfer] >= self.max_opens_per_transfer:
                return False
            self._opens[transfer] += 1
            return True

    def close_package(self, transfer: str) -> None:
        with self._lock:
            self._opens[transfer] -= 1
            if self._opens[transfer] <= 0:
                del self._opens[transfer]

    def worth_logging(self, source: str, what: str) -> bool:
        """True at most once a minute per source and kind of refusal."""
        now = time.monotonic()
        with self._lock:
            if self._logged.get((source, what), -LOG_EVERY) > now - LOG_EVERY:
                return False
            self._logged[(source, what)] = now
            return True
