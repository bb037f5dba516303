"""HAProxy (Debian's) in TCP mode in front of gateway nodes, on 127.0.0.1 and a free port: TLS
(with the terminal's client certificate) and SSH pass through to the nodes untouched. Started by
the tests, stopped by them."""
from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HAPROXY = "/usr/sbin/haproxy"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Haproxy:
    port: int
    base: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.base, ignore_errors=True)


def start(backends: dict[str, int]) -> Haproxy:
    """Round robin over `backends` (name: port on 127.0.0.1); a node that stops answering its TCP
    check is taken out within a second, and a connection refused by it is retried on another."""
    if not Path(HAPROXY).exists():
        raise RuntimeError("haproxy is missing: run `make setup` (installs haproxy)")
    base = Path(tempfile.mkdtemp(prefix="gateway-haproxy-"))
    port = _free_port()
    servers = "\n".join(f"    server {name} 127.0.0.1:{p} check inter 300ms fall 2 rise 2"
                        for name, p in backends.items())
    (base / "haproxy.cfg").write_text(f"""global
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
backend nodes
    balance roundrobin
{servers}
""")
    log = (base / "log").open("wb")
    process = subprocess.Popen([HAPROXY, "-db", "-f", str(base / "haproxy.cfg")], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"haproxy exited: {(base / 'log').read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return Haproxy(port, base, process)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("haproxy did not listen within 20 s")
