"""`/healthz` and `/metrics` on a port of the loopback interface only.

Local-only by construction (it binds 127.0.0.1 and nothing else): the health answer names what
is failing inside the service, and the metrics count refusals by kind, which the LGWAN side has
no business reading. A local monitor (systemd's watchdog script, node_exporter's textfile, a
Prometheus on the host) reads them; no certificate is needed because nothing else can connect.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from gateway.service_ops import oplog
from gateway.service_ops.metrics import CONTENT_TYPE, Metrics

LOOPBACK = "127.0.0.1"
Check = Callable[[], bool]

_log = oplog.get("monitor")


class Monitor:
    def __init__(self, metrics: Metrics, checks: dict[str, Check], port: int) -> None:
        self.metrics, self.checks = metrics, checks
        monitor = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "gateway-monitor"
            sys_version = ""

            def do_GET(self) -> None:  # noqa: N802  (http.server's name)
                if self.path == "/healthz":
                    status, body, kind = monitor.health()
                elif self.path == "/metrics":
                    status, body, kind = 200, monitor.metrics.render().encode("utf-8"), CONTENT_TYPE
                else:
                    status, body, kind = 404, b"not found\n", "text/plain; charset=utf-8"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                _log.debug("monitor request", extra={"request": format % args})

        self.server = ThreadingHTTPServer((LOOPBACK, port), Handler)
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="monitor", daemon=True)

    def health(self) -> tuple[int, bytes, str]:
        results: dict[str, bool] = {}
        for name, check in self.checks.items():
            try:
                results[name] = bool(check())
            except Exception as err:  # a check that raises is a failing check, and says why in the log
                _log.warning("health check failed", extra={"check": name, "error": type(err).__name__})
                results[name] = False
        ok = all(results.values())
        body = json.dumps({"status": "ok" if ok else "failing", "checks": results}).encode("utf-8") + b"\n"
        return (200 if ok else 503), body, "application/json"

    def start(self) -> Monitor:
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.thread.is_alive():  # shutdown() waits for a serve_forever that never ran otherwise
            self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
