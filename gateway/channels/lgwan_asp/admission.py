"""Who gets a connection to the portal, and for how long, before TLS and HTTP have said anything.

An attacker without a certificate held 3,000 TCP connections open for 60 s each (asyncio's default
TLS handshake timeout), and under a 256-descriptor limit 300 of them made a client with a valid
certificate time out; one with a certificate kept a connection open forever by trickling header
lines. So (issue 19, defect 2):

* connections are counted per source address and in total at accept(), before the handshake, and
  refused past `[portal] max_connections_per_source` / `max_connections` (closed at once: a refused
  connection costs no handshake and no thread);
* a connection that has not finished its TLS handshake within HANDSHAKE_SECONDS is cut;
* after the handshake, a request's headers must be complete within HEADER_SECONDS, and a request
  whose body stops arriving for BODY_IDLE_SECONDS is cut (`Deadlines`, used by the HTTP protocol).

What is refused here is counted, and logged once a minute per source (as the SFTP server does), so
that a flood cannot become a flood of log entries.
"""
from __future__ import annotations

import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable

HANDSHAKE_SECONDS = 10.0
HEADER_SECONDS = 10.0
BODY_IDLE_SECONDS = 30.0
LOG_EVERY = 60.0


class Admission:
    def __init__(self, per_source: int, total: int, on_refused: Callable[[str], None], proxy_from: str = "") -> None:
        self.per_source, self.total = per_source, total
        self.proxy_from = proxy_from  # the balancer whose PROXY v2 header names the client (gateway.proxyproto)
        self.on_refused = on_refused
        self.lock = threading.Lock()
        self.open: dict[str, int] = defaultdict(int)
        self.pending: dict[int, tuple[float, socket.socket]] = {}  # fd -> (accepted at, conn), until the handshake
        self.refused = 0
        self._logged: dict[str, float] = {}

    def admit(self, source: str) -> bool:
        with self.lock:
            if self.open[source] >= self.per_source or sum(self.open.values()) >= self.total:
                self.refused += 1
                due = time.monotonic() - self._logged.get(source, -LOG_EVERY) >= LOG_EVERY
                if due:
                    self._logged[source] = time.monotonic()
            else:
                self.open[source] += 1
                return True
        if due:
            self.on_refused(source)
        return False

    def release(self, source: str) -> None:
        with self.lock:
            self.open[source] -= 1
            if self.open[source] <= 0:
                del self.open[source]

    def handshaken(self, fd: int) -> None:
        with self.lock:
            self.pending.pop(fd, None)

    def expire_handshakes(self) -> int:
        """Cut connections still without a finished handshake past the deadline; how many."""
        now = time.monotonic()
        with self.lock:
            late = [(fd, conn) for fd, (at, conn) in self.pending.items() if now - at > HANDSHAKE_SECONDS]
            for fd, _ in late:
                del self.pending[fd]
        for _, conn in late:
            try:
                conn.shutdown(socket.SHUT_RDWR)  # the event loop sees the end and closes it
            except OSError:
                pass
        return len(late)


class GatedConnection(socket.socket):
    """An accepted connection that gives its place back when it is closed (once)."""

    admission: Admission
    source: str
    peer: tuple[str, int] | None = None  # the client a balancer's PROXY header named
    _released = False

    def getpeername(self) -> tuple[str, int]:
        # asyncio's transport asks once, for `peername`: uvicorn's scope["client"], hence every
        # throttle and log entry, gets the client the balancer relayed.
        return self.peer if self.peer is not None else super().getpeername()

    def close(self) -> None:
        if not self._released:
            self._released = True
            self.admission.handshaken(self.fileno())
            self.admission.release(self.source)
        super().close()


class GatedListener(socket.socket):
    """The listening socket asyncio accepts from: refused connections are closed here, before the
    event loop ever starts a TLS handshake on them."""

    admission: Admission

    @classmethod
    def wrap(cls, sock: socket.socket, admission: Admission) -> GatedListener:
        listener = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        listener.admission = admission
        return listener

    def accept(self) -> tuple[socket.socket, object]:
        while True:
            # socket.socket's own accept() calls this too; it raises BlockingIOError when nothing waits.
            fd, addr = self._accept()  # type: ignore[attr-defined]
            source = addr[0] if isinstance(addr, tuple) else str(addr)
            peer = None
            if self.admission.proxy_from and source == self.admission.proxy_from:
                peer = _relayed(fd)
                if peer is None:
                    continue
                source, addr = peer[0], peer
            if not self.admission.admit(source):
                socket.close(fd)
                continue
            conn = GatedConnection(self.family, self.type, self.proto, fileno=fd)
            conn.admission, conn.source, conn.peer = self.admission, source, peer
            with self.admission.lock:
                self.admission.pending[fd] = (time.monotonic(), conn)
            if socket.getdefaulttimeout() is None and self.gettimeout():
                conn.setblocking(True)
            return conn, addr


def _relayed(fd: int) -> tuple[str, int] | None:
    """The client the balancer names in its PROXY v2 header on `fd`; None (and `fd` closed) for
    its health checks and for anything unreadable. The balancer writes the header with its connect,
    so the short blocking read does not hold the event loop up."""
    from gateway import proxyproto

    raw = socket.socket(fileno=fd)
    try:
        peer = proxyproto.read(raw, timeout=1.0)
    except proxyproto.BadHeader:
        peer = None
    if peer is None:
        raw.close()
        return None
    raw.detach()
    return peer


def sweep(admission: Admission, stop: threading.Event, every: float = 1.0) -> None:
    """The handshake deadline's clock, on its own thread until `stop`."""
    while not stop.wait(every):
        admission.expire_handshakes()
