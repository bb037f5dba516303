"""`gateway serve` nodes of one gateway: homes made alike (the first by `gateway init`, the others
copied from it as an installer copies keys and settings to a new machine, each with its own work
area) and nodes started in the background on free ports, healthy when their /healthz answers 200."""
from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.cluster import procs


def gateway_binary() -> str:
    return str(Path(sys.executable).parent / "gateway")


def make_homes(base: Path, names: list[str], env: dict[str, str], blobs_url: str, rehearsal: bool,
               proxy_from: str = "") -> dict[str, Path]:
    """`gateway init` for the first node (its database URL goes into gateway.toml), the object store
    as `[blobs] url`, the balancer whose PROXY v2 header the nodes read, then the same keys and
    settings for the others."""
    first = base / names[0]
    argv = [gateway_binary(), "--home", str(first), "init", *(["--rehearsal"] if rehearsal else [])]
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"gateway init: {done.stderr.strip()[-1500:]}")
    with (first / "gateway.toml").open("a", encoding="utf-8") as f:
        f.write(f'\n[blobs]\nurl = "{blobs_url}"\n')
        if proxy_from:
            f.write(f'\n[cluster]\nproxy_protocol_from = "{proxy_from}"\n')
    homes = {names[0]: first}
    for name in names[1:]:
        homes[name] = base / name
        shutil.copytree(first, homes[name], ignore=shutil.ignore_patterns("blobs", "work", "exports", "*.lock"))
    return homes


@dataclass
class Node:
    name: str
    home: Path
    portal_port: int
    sftp_port: int
    monitor_port: int
    pid: int
    start: int | None

    def alive(self) -> bool:
        return procs.alive(self.pid, self.start)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor_port}/healthz", timeout=2) as r:
                return bool(r.status == 200)
        except (OSError, urllib.error.HTTPError):
            return False

    def stop(self, grace: float = 15.0) -> bool:
        return procs.stop(self.pid, self.start, grace)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "home": str(self.home), "portal_port": self.portal_port, "sftp_port": self.sftp_port,
                "monitor_port": self.monitor_port, "pid": self.pid, "start": self.start}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Node:
        return cls(d["name"], Path(d["home"]), d["portal_port"], d["sftp_port"], d["monitor_port"], d["pid"], d["start"])


def start(name: str, home: Path, env: dict[str, str], timeout: float = 90.0,
          started: Callable[[Node], None] | None = None) -> Node:
    """One node, named in every log entry it appends; returns once it is healthy."""
    portal, sftp, monitor = procs.free_ports(3)
    process = procs.spawn([gateway_binary(), "--home", str(home), "serve", "--bind", "127.0.0.1",
                           "--portal-port", str(portal), "--sftp-port", str(sftp), "--metrics-port", str(monitor),
                           "--grace", "5"],
                          home / "serve.log", env={**env, "GATEWAY_CLUSTER_NODE": name})
    node = Node(name, home, portal, sftp, monitor, process.pid, procs.started_at(process.pid))
    try:
        if started is not None:
            started(node)
        if not procs.wait_until(lambda: process.poll() is not None or node.healthy(), timeout, every=0.3) \
                or process.poll() is not None:
            raise RuntimeError(f"gateway serve ({name}) did not become healthy: {procs.tail(home / 'serve.log')}")
    except BaseException:
        node.stop(grace=5.0)
        raise
    return node


def node_environ(db_url: str, s3: dict[str, str]) -> dict[str, str]:
    """What a node's process needs beyond its home: the object store's access key (never in a file
    of the home). The database URL is in gateway.toml; $GATEWAY_DB_URL is set too, for tools."""
    return {"GATEWAY_DB_URL": db_url, **s3}


