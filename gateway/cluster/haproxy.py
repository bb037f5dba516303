"""HAProxy (Debian's) in TCP mode in front of the gateway nodes, on 127.0.0.1: TLS (with the
terminal's client certificate) and SSH pass through to the nodes untouched. One frontend for the
portal and, when the nodes serve SFTP, one for SFTP."""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.cluster import procs

HAPROXY = "/usr/sbin/haproxy"


@dataclass
class Haproxy:
    port: int
    base: Path
    pid: int
    start: int | None
    sftp_port: int | None = None

    def alive(self) -> bool:
        return procs.alive(self.pid, self.start)

    def healthy(self) -> bool:
        return self.alive() and procs.listening(self.port)

    def stop(self, grace: float = 10.0) -> bool:
        return procs.stop(self.pid, self.start, grace)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def to_json(self) -> dict[str, Any]:
        return {"port": self.port, "sftp_port": self.sftp_port, "base": str(self.base), "pid": self.pid,
                "start": self.start}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Haproxy:
        return cls(d["port"], Path(d["base"]), d["pid"], d["start"], d.get("sftp_port"))


def _backend(name: str, servers: dict[str, int], send_proxy: bool) -> str:
    # send-proxy-v2: each connection to a node begins with the client's address (the nodes read it
    # when `[cluster] proxy_protocol_from` names us); the TCP checks send none and are told apart.
    extra = " send-proxy-v2" if send_proxy else ""
    lines = "\n".join(f"    server {node} 127.0.0.1:{port} check inter 300ms fall 2 rise 2{extra}"
                      for node, port in servers.items())
    return f"backend {name}\n    balance roundrobin\n{lines}\n"


def config(port: int, portal: dict[str, int], sftp_port: int | None = None, sftp: dict[str, int] | None = None,
           send_proxy: bool = False) -> str:
    """Round robin over the nodes (name: port on 127.0.0.1); a node that stops answering its TCP
    check is taken out within a second, and a connection it refuses is retried on another."""
    text = f"""global
    maxconn 256
defaults
    mode tcp
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    retries 2
    option redispatch
frontend portal
    bind 127.0.0.1:{port}
    default_backend nodes
{_backend("nodes", portal, send_proxy)}"""
    if sftp and sftp_port is not None:
        text += f"""frontend sftp
    bind 127.0.0.1:{sftp_port}
    default_backend sftp_nodes
{_backend("sftp_nodes", sftp, send_proxy)}"""
    return text


def start(backends: dict[str, int], base: Path | None = None, sftp: dict[str, int] | None = None,
          send_proxy: bool = False, started: Callable[[Haproxy], None] | None = None) -> Haproxy:
    if not Path(HAPROXY).exists():
        raise procs.Missing(f"{HAPROXY} (haproxy)")
    if base is None:
        base = Path(tempfile.mkdtemp(prefix="gateway-haproxy-"))
    base.mkdir(parents=True, exist_ok=True)
    port, sftp_port = procs.free_ports(2)
    (base / "haproxy.cfg").write_text(config(port, backends, sftp_port if sftp else None, sftp, send_proxy))
    process = procs.spawn([HAPROXY, "-db", "-f", str(base / "haproxy.cfg")], base / "log")
    proxy = Haproxy(port, base, process.pid, procs.started_at(process.pid), sftp_port if sftp else None)
    try:
        if started is not None:
            started(proxy)
        ports = [port] + ([sftp_port] if sftp else [])
        if not procs.wait_until(lambda: process.poll() is not None or all(procs.listening(p) for p in ports), 20,
                                every=0.1) or process.poll() is not None:
            raise RuntimeError(f"haproxy did not listen within 20 s: {procs.tail(base / 'log')}")
    except BaseException:
        proxy.stop(grace=0.0)
        raise
    return proxy
