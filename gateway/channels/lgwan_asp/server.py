"""Running the portal: uvicorn over the mutual-TLS context, on (bind, port), until told to stop.

`run_portal` blocks (for `gateway serve`); `PortalServer` runs it on a background thread (for
tests and `gateway simulate`). The terminal's certificate fingerprint is put into each request's
state by a small subclass of uvicorn's h11 protocol, since ASGI scopes do not carry the peer
certificate.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from gateway.channels.lgwan_asp import terminals
from gateway.channels.lgwan_asp.admission import BODY_IDLE_SECONDS, HEADER_SECONDS, Admission, GatedListener, sweep
from gateway.channels.lgwan_asp.app import create_app
from gateway.channels.lgwan_asp.tls import TerminalTLS
from gateway.errors import Forbidden
from gateway.ledger.log import SYSTEM
from gateway.operations.attempt import refuse
from gateway.service import Gateway
from gateway.settings import PortalSettings

CRL_REFRESH_SECONDS = 3600.0


class _TerminalProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, with the terminal's certificate in each request's state and the
    deadlines of admission.py: headers complete within HEADER_SECONDS of their first byte, and a
    body that stops arriving cut after BODY_IDLE_SECONDS."""

    _header_timer: asyncio.TimerHandle | None = None
    _body_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        admission: Admission | None = getattr(self.config, "admission", None)
        if admission is not None and sock is not None:
            admission.handshaken(sock.fileno())  # called after the TLS handshake completed
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        # Per connection: uvicorn copies app_state into every request's scope["state"].
        self.app_state = {**self.app_state, "terminal": terminals.fingerprint(der) if der else None}

    def data_received(self, data: bytes) -> None:
        if self.cycle is None or self.cycle.response_complete:
            if self._header_timer is None:  # the first byte of a request: its headers have a deadline
                self._header_timer = self.loop.call_later(HEADER_SECONDS, self._too_slow)
        elif self.conn.their_state is h11.SEND_BODY:
            self._restart_body_timer()
        super().data_received(data)
        if self.cycle is not None and not self.cycle.response_complete and self._header_timer is not None:
            self._header_timer.cancel()  # the request's headers are complete
            self._header_timer = None
            if self.conn.their_state is h11.SEND_BODY:
                self._restart_body_timer()

    def _restart_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
        self._body_timer = self.loop.call_later(BODY_IDLE_SECONDS, self._body_stalled)

    def _body_stalled(self) -> None:
        if self.conn.their_state is h11.SEND_BODY:
            self._too_slow()

    def _too_slow(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._header_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)


def _config(gw: Gateway, bind: str, port: int, settings: PortalSettings | None, admission: Admission) -> uvicorn.Config:
    terminals.write_crl(gw)  # a fresh list at start: an expired CRL would fail every handshake
    tls = TerminalTLS(gw.keys, terminals.crl_path(gw))
    app = create_app(gw, settings)
    config = uvicorn.Config(
        app, host=bind, port=port, http=_TerminalProtocol, lifespan="off",
        ssl_context_factory=lambda _config, _default: tls.context(), server_header=False,
        log_level=logging.WARNING, access_log=False, timeout_keep_alive=30,
        h11_max_incomplete_event_size=64 * 1024,
    )
    config.admission = admission  # type: ignore[attr-defined]  # read by _TerminalProtocol
    config.portal_app = app  # type: ignore[attr-defined]  # its held uploads are removed at stop
    return config


def _admission(gw: Gateway, settings: PortalSettings | None) -> Admission:
    s = settings or gw.settings.portal

    def refused(source: str) -> None:
        refuse(gw, SYSTEM, "portal.connect", Forbidden(
            "接続元からの接続が多すぎます。", "too many connections from this source or in all; further ones are "
            "cut before the TLS handshake, logged once a minute per source"), channel="lgwan-asp", source=source)

    return Admission(s.max_connections_per_source, s.max_connections, refused,
                     proxy_from=gw.settings.cluster.proxy_protocol_from)


def _listen(bind: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in bind else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((bind, port))
    return sock


def _refresh_crl(gw: Gateway, stop: threading.Event) -> None:
    while not stop.wait(CRL_REFRESH_SECONDS):
        terminals.write_crl(gw)


def run_portal(gw: Gateway, bind: str, port: int, *, stop: threading.Event | None = None,
               settings: PortalSettings | None = None) -> None:
    """Serve until `stop` is set, or until SIGINT/SIGTERM when called on the main thread."""
    admission = _admission(gw, settings)
    sock = _listen(bind, port)
    server = uvicorn.Server(_config(gw, bind, sock.getsockname()[1], settings, admission))
    done = threading.Event()
    threading.Thread(target=_refresh_crl, args=(gw, done), daemon=True, name="portal-crl").start()
    threading.Thread(target=sweep, args=(admission, done), daemon=True, name="portal-handshakes").start()
    if stop is not None:
        def watch() -> None:
            while not done.is_set():
                if stop.wait(0.2):
                    server.should_exit = True
                    return
        threading.Thread(target=watch, daemon=True, name="portal-stop").start()
    try:
        server.run(sockets=[GatedListener.wrap(sock, admission)])
    finally:
        done.set()


class PortalServer:
    """The portal on a background thread; port 0 picks a free port (see `.port`)."""

    def __init__(self, gw: Gateway, bind: str = "127.0.0.1", port: int = 0,
                 settings: PortalSettings | None = None) -> None:
        self.gw = gw
        self.admission = _admission(gw, settings)
        self.sock = GatedListener.wrap(_listen(bind, port), self.admission)
        self.port: int = self.sock.getsockname()[1]
        self.server = uvicorn.Server(_config(gw, bind, self.port, settings, self.admission))
        self.thread = threading.Thread(target=self._run, daemon=True, name="portal")
        self._done = threading.Event()

    def _run(self) -> None:
        self.server.run(sockets=[self.sock])

    def start(self, timeout: float = 20.0) -> PortalServer:
        self.thread.start()
        threading.Thread(target=_refresh_crl, args=(self.gw, self._done), daemon=True).start()
        threading.Thread(target=sweep, args=(self.admission, self._done), daemon=True).start()
        for _ in range(int(timeout / 0.05)):
            if self.server.started:
                return self
            if not self.thread.is_alive():
                break
            threading.Event().wait(0.05)
        raise RuntimeError("the portal did not start")

    def stop(self, grace: float = 10.0) -> None:
        """Accept no one new; requests in flight get `grace` seconds to finish, then are cut."""
        self._done.set()
        self.server.config.timeout_graceful_shutdown = max(1, round(grace))
        self.server.should_exit = True
        self.thread.join(timeout=grace + 5)
        self.sock.close()
        # Uploads held for a confirmation that can no longer come: removed, their keys forgotten.
        self.server.config.portal_app.state.staged.discard_all()  # type: ignore[attr-defined]

    def __enter__(self) -> PortalServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
