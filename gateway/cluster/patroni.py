"""A PostgreSQL primary and a streaming replica managed by Patroni (Debian's) with one etcd, all on
127.0.0.1 and free ports, under one directory.

PostgreSQL runs as the `postgres` system user when we are root. Patroni detaches each postmaster
(it survives its Patroni), so stopping a member ends both: the Patroni's session and the postmaster
named in the data directory's postmaster.pid. `kill_primary` does that to the leader at once (a
machine that dies); the replica is promoted once the leader key expires in etcd (ttl 8 s).
Replication is synchronous.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.cluster import procs
from gateway.cluster.postgres import bindir

ETCD = "/usr/bin/etcd"
PATRONI = "/usr/bin/patroni"


@dataclass
class Proc:
    """A process we started, as the state file records it."""

    pid: int
    start: int | None

    @classmethod
    def of(cls, pid: int) -> Proc:
        return cls(pid, procs.started_at(pid))

    def alive(self) -> bool:
        return procs.alive(self.pid, self.start)

    def stop(self, grace: float = 15.0) -> bool:
        return procs.stop(self.pid, self.start, grace)


@dataclass
class Member:
    name: str
    pg_port: int
    api_port: int
    data_dir: Path
    process: Proc | None = None

    def postmaster(self) -> Proc | None:
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        found = Proc.of(pid)
        return found if found.start is not None else None

    def stop(self, grace: float) -> bool:
        """Patroni first (on SIGTERM it shuts its postmaster down), then whatever postmaster is left."""
        before = self.postmaster()
        ok = self.process.stop(grace) if self.process is not None else True
        # Read again: a Patroni stopped while it was starting its postmaster may have left one that
        # the first read did not see.
        for postmaster in {p.pid: p for p in (before, self.postmaster()) if p is not None}.values():
            ok = procs.stop(postmaster.pid, postmaster.start, grace, group=False) and ok
        return ok

    def kill(self) -> None:
        postmaster = self.postmaster()
        if self.process is not None:
            procs.stop(self.process.pid, self.process.start, grace=0.0)
        if postmaster is not None:  # its children end with it
            procs.stop(postmaster.pid, postmaster.start, grace=0.0, group=False)

    def processes(self) -> list[Proc]:
        return [p for p in (self.process, self.postmaster()) if p is not None]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "pg_port": self.pg_port, "api_port": self.api_port, "data_dir": str(self.data_dir),
                "pid": self.process.pid if self.process else None, "start": self.process.start if self.process else None}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Member:
        return cls(d["name"], d["pg_port"], d["api_port"], Path(d["data_dir"]),
                   Proc(d["pid"], d["start"]) if d.get("pid") else None)


@dataclass
class PatroniCluster:
    base: Path
    etcd: Proc
    etcd_port: int
    members: dict[str, Member]
    killed: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """libpq multi-host: whichever member is the primary now takes the writes."""
        hosts = "&".join(f"host=127.0.0.1:{m.pg_port}" for m in self.members.values())
        return f"postgresql+psycopg://postgres@/postgres?{hosts}&target_session_attrs=read-write&connect_timeout=3"

    def roles(self) -> dict[str, tuple[str, str]]:
        """name: (role, state) as the living members' REST API reports the cluster."""
        for m in self.members.values():
            if m.name in self.killed:
                continue
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{m.api_port}/cluster", timeout=2) as r:
                    doc = json.load(r)
                return {x["name"]: (x["role"], x["state"]) for x in doc.get("members", [])}
            except OSError:
                continue
        return {}

    def leader(self) -> str | None:
        return next((n for n, (role, state) in self.roles().items() if role == "leader" and state == "running"), None)

    def streaming(self) -> bool:
        return self.leader() is not None and any(
            role in ("replica", "sync_standby") and state in ("streaming", "running") for role, state in self.roles().values())

    def wait_until(self, ready: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
        if not procs.wait_until(ready, timeout, every=0.3):
            logs = {p.name: procs.tail(p) for p in self.base.glob("*.log")}
            raise RuntimeError(f"Patroni cluster: {what} not within {timeout:.0f} s; roles {self.roles()}; {logs}")

    def wait_streaming(self) -> None:
        self.wait_until(self.streaming, "a leader and a streaming replica")

    def died(self) -> bool:
        """A Patroni we started has ended (its configuration refused, say): waiting longer is no use."""
        return any(m.process is not None and not m.process.alive() for m in self.members.values()
                   if m.name not in self.killed)

    def kill_primary(self) -> str:
        name = self.leader()
        if name is None:
            raise RuntimeError(f"no leader to kill: {self.roles()}")
        self.members[name].kill()
        self.killed.append(name)
        return name

    def processes(self) -> list[Proc]:
        return [p for m in self.members.values() for p in m.processes()] + [self.etcd]

    def stop(self, grace: float = 15.0) -> bool:
        """Every member, then etcd; True when all are gone."""
        ok = all([m.stop(grace) for m in self.members.values()])
        return self.etcd.stop(grace) and ok

    def remove(self) -> None:
        """Stop everything at once and remove the directory (the tests' clean-up)."""
        for m in self.members.values():
            m.kill()
        self.etcd.stop(grace=0.0)
        shutil.rmtree(self.base, ignore_errors=True)

    def to_json(self) -> dict[str, Any]:
        return {"base": str(self.base), "etcd": {"pid": self.etcd.pid, "start": self.etcd.start, "port": self.etcd_port},
                "members": [m.to_json() for m in self.members.values()], "url": self.url}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PatroniCluster:
        return cls(Path(d["base"]), Proc(d["etcd"]["pid"], d["etcd"]["start"]), d["etcd"]["port"],
                   {m["name"]: Member.from_json(m) for m in d["members"]})

    def etcd_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.etcd_port}/health", timeout=1) as r:
                return bool(json.load(r).get("health") == "true")
        except OSError:
            return False


def _member_config(scope: str, m: Member, etcd_port: int, base: Path, binaries: str) -> str:
    return f"""scope: {scope}
name: {m.name}
restapi:
  listen: 127.0.0.1:{m.api_port}
  connect_address: 127.0.0.1:{m.api_port}
etcd3:
  hosts: 127.0.0.1:{etcd_port}
bootstrap:
  dcs:
    ttl: 8
    loop_wait: 1
    retry_timeout: 3
    maximum_lag_on_failover: 1048576
    # A commit returns only once the replica has it: a send the gateway acknowledged survives the
    # primary's death (asynchronous replication could lose it, and the log's head with it).
    synchronous_mode: true
    postgresql:
      use_pg_rewind: false
      parameters:
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 5
        max_replication_slots: 5
        wal_keep_size: 64MB
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
postgresql:
  listen: 127.0.0.1:{m.pg_port}
  connect_address: 127.0.0.1:{m.pg_port}
  data_dir: {m.data_dir}
  bin_dir: {binaries}
  pgpass: {base / (m.name + '.pgpass')}
  authentication:
    replication:
      username: replicator
      password: replicator-{scope}
    superuser:
      username: postgres
      password: postgres-{scope}
  parameters:
    unix_socket_directories: {base}
    fsync: "off"
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 trust
    - host all all 127.0.0.1/32 trust
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
"""


def start(base: Path | None = None, started: Callable[[PatroniCluster], None] | None = None) -> PatroniCluster:
    """etcd, then pg1 (which bootstraps the cluster and leads), then pg2 (which clones it); returns
    once pg2 streams. On any failure, or Ctrl-C, what was started is stopped again."""
    for binary, package in ((ETCD, "etcd-server"), (PATRONI, "patroni")):
        if not Path(binary).exists():
            raise procs.Missing(f"{binary} ({package})")
    binaries = bindir()
    if base is None:
        base = Path(tempfile.mkdtemp(prefix="gateway-patroni-"))
    base.mkdir(parents=True, exist_ok=True)
    run_as = procs.postgres_user(base)
    etcd_client, etcd_peer, pg1, pg2, api1, api2 = procs.free_ports(6)
    etcd = procs.spawn(
        [ETCD, "--name", "e1", "--data-dir", str(base / "etcd"),
         "--listen-client-urls", f"http://127.0.0.1:{etcd_client}", "--advertise-client-urls", f"http://127.0.0.1:{etcd_client}",
         "--listen-peer-urls", f"http://127.0.0.1:{etcd_peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{etcd_peer}",
         "--initial-cluster", f"e1=http://127.0.0.1:{etcd_peer}", "--listen-metrics-urls", ""],
        base / "etcd.log")
    members = {name: Member(name, pg_port, api_port, base / name)
               for name, pg_port, api_port in (("pg1", pg1, api1), ("pg2", pg2, api2))}
    cluster = PatroniCluster(base, Proc.of(etcd.pid), etcd_client, members)
    announce = started or (lambda _: None)  # each process as it starts: the supervisor records it
    try:
        announce(cluster)
        cluster.wait_until(cluster.etcd_healthy, "etcd", timeout=30)
        scope = "gw-" + uuid.uuid4().hex[:8]
        for i, m in enumerate(members.values()):
            config = base / f"{m.name}.yml"
            config.write_text(_member_config(scope, m, etcd_client, base, binaries))
            shutil.chown(config, base.owner())
            m.process = Proc.of(procs.spawn([*run_as, PATRONI, str(config)], base / f"{m.name}.log").pid)
            announce(cluster)
            if i == 0:  # the first bootstraps the cluster; the second then clones it
                cluster.wait_until(lambda: cluster.died() or cluster.leader() == "pg1", "pg1 as the leader")
        cluster.wait_until(lambda: cluster.died() or cluster.streaming(), "a leader and a streaming replica")
        if cluster.died():
            raise RuntimeError(f"Patroni exited: {procs.tail(base / 'pg1.log', 600)} {procs.tail(base / 'pg2.log', 600)}")
    except BaseException:
        cluster.stop(grace=5.0)
        raise
    return cluster

