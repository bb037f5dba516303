"""tlog-witness over HTTP/1.1 with keep-alive, on the standard library's ThreadingHTTPServer.

Only `POST /add-checkpoint` exists. Bodies must carry a Content-Length no larger than the request
format allows, and a slow client is cut off after SOCKET_TIMEOUT seconds, so a handful of idle
connections cannot hold the witness.
"""
from __future__ import annotations

import ipaddress
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from audit.witness.core import TEXT, Answer, Witness
from audit.witness.request import MAX_BODY

SOCKET_TIMEOUT = 30.0


def parse_listen(value: str) -> tuple[str, int]:
    """HOST:PORT, with [IPv6]:PORT; port 0 asks the system for a free one."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host or int(port) > 65535:
        raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:8380")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


class WitnessServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, listen: tuple[str, int], witness: Witness) -> None:
        host, _ = listen
        try:
            self.address_family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
        except ValueError:
            self.address_family = socket.AF_INET  # a host name: resolved as IPv4, bound to what it names
        self.witness = witness
        super().__init__(listen, _Handler)

    def server_bind(self) -> None:
        # Bind exactly what --listen says; HTTPServer's server_bind also does a reverse lookup of the
        # address (getfqdn), which can stall on a closed network and which we do not need.
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "audit-witness"
    sys_version = ""
    timeout = SOCKET_TIMEOUT
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's delayed
    # ACK of the headers (about 40 ms on Linux), which capped the witness at ~22 checkpoints/s.
    disable_nagle_algorithm = True
    server: WitnessServer

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
        if self.path != "/add-checkpoint":
            self._send(Answer.refuse(404, "そのパスはありません。", "not found: only POST /add-checkpoint exists"))
            return
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding") or length is None or not length.isdigit():
            self.close_connection = True
            self._send(Answer.refuse(411, "Content-Length が必要です。", "a Content-Length is required"))
            return
        if int(length) > MAX_BODY:
            self.close_connection = True
            self._send(Answer.refuse(413, "要求が大きすぎます。", f"the body is larger than {MAX_BODY} bytes"))
            return
        body = self.rfile.read(int(length))
        if len(body) != int(length):
            self.close_connection = True
            return  # the client went away mid-body: nobody to answer
        self._send(self.server.witness.add_checkpoint(body))

    def do_GET(self) -> None:  # noqa: N802
        self._send(Answer.refuse(405, "POST /add-checkpoint のみです。", "only POST /add-checkpoint is served"))

    def _send(self, answer: Answer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type or TEXT)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if code != 200:  # refusals are worth a line; every cosignature is not
            super().log_request(code, size)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        sys.stderr.write(f"witness: {self.client_address[0]} {format % args}\n")
