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

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from gateway.channels.lgwan_asp import terminals
from gateway.channels.lgwan_asp.app import create_app
from gateway.settings import PortalSettings
from gateway.channels.lgwan_asp.tls import TerminalTLS
from gateway.service import Gateway

CRL_REFRESH_SECONDS = 3600.0


class _TerminalProtocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        # Per connection: uvicorn copies app_state into every request's scope["state"].
        self.app_state = {**self.app_state, "terminal": terminals.fingerprint(der) if der else None}


def _config(gw: Gateway, bind: str, port: int, settings: PortalSettings | None) -> uvicorn.Config:
    terminals.write_crl(gw)  # a fresh list at start: an expired CRL would fail every handshake
    tls = TerminalTLS(gw.keys, terminals.crl_path(gw))
    config = uvicorn.Config(
        create_app(gw, settings), host=bind, port=port, http=_TerminalProtocol, lifespan="off",
        ssl_context_factory=lambda _config, _default: tls.context(), server_header=False,
        log_level=logging.WARNING, access_log=False, timeout_keep_alive=30,
        h11_max_incomplete_event_size=64 * 1024,
    )
    return config


def _refresh_crl(gw: Gateway, stop: threading.Event) -> None:
    while not stop.wait(CRL_REFRESH_SECONDS):
        terminals.write_crl(gw)


def run_portal(gw: Gateway, bind: str, port: int, *, stop: threading.Event | None = None,
               settings: PortalSettings | None = None) -> None:
    """Serve until `stop` is set, or until SIGINT/SIGTERM when called on the main thread."""
    server = uvicorn.Server(_config(gw, bind, port, settings))
    done = threading.Event()
    threading.Thread(target=_refresh_crl, args=(gw, done), daemon=True, name="portal-crl").start()
    if stop is not None:
        def watch() -> None:
            while not done.is_set():
                if stop.wait(0.2):
                    server.should_exit = True
                    return
        threading.Thread(target=watch, daemon=True, name="portal-stop").start()
    try:
        server.run()
    finally:
        done.set()


class PortalServer:
    """The portal on a background thread; port 0 picks a free port (see `.port`)."""

    def __init__(self, gw: Gateway, bind: str = "127.0.0.1", port: int = 0,
                 settings: PortalSettings | None = None) -> None:
        self.gw = gw
        self.sock = socket.socket(socket.AF_INET6 if ":" in bind else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((bind, port))
        self.port: int = self.sock.getsockname()[1]
        self.server = uvicorn.Server(_config(gw, bind, self.port, settings))
        self.thread = threading.Thread(target=self._run, daemon=True, name="portal")
        self._done = threading.Event()

    def _run(self) -> None:
        self.server.run(sockets=[self.sock])

    def start(self, timeout: float = 20.0) -> "PortalServer":
        self.thread.start()
        threading.Thread(target=_refresh_crl, args=(self.gw, self._done), daemon=True).start()
        for _ in range(int(timeout / 0.05)):
            if self.server.started:
                return self
            if not self.thread.is_alive():
                break
            threading.Event().wait(0.05)
        raise RuntimeError("the portal did not start")

    def stop(self) -> None:
        self._done.set()
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()

    def __enter__(self) -> "PortalServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
