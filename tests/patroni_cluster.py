"""A PostgreSQL primary and a streaming replica managed by Patroni (Debian's) with one etcd, all on
127.0.0.1 and free ports, in a temporary directory: for the failover tests (issue 24, item 4).

PostgreSQL runs as the `postgres` system user when we are root, as tests/postgres_server.py does.
`kill_primary` stops the leader's Patroni and its postmaster at once (a machine that dies); the
replica is promoted once the leader key expires in etcd (ttl 8 s). Replication is synchronous. `stop` ends every process this
module started and removes the directory, whatever state the cluster is in.
"""
from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ETCD = "/usr/bin/etcd"
PATRONI = "/usr/bin/patroni"


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries are missing: run `make setup`")
    return os.path.dirname(found[-1])


@dataclass
class Member:
    name: str
    pg_port: int
    api_port: int
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None


@dataclass
class PatroniCluster:
    base: Path
    etcd: subprocess.Popen[bytes]
    members: dict[str, Member]
    run_as: list[str]
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

    def wait_until(self, ready, what: str, timeout: float = 90.0) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(0.3)
        logs = {p.name: p.read_text()[-1500:] for p in self.base.glob("*.log")}
        raise AssertionError(f"Patroni cluster: {what} not within {timeout:.0f} s; roles {self.roles()}; {logs}")

    def wait_streaming(self) -> None:
        def ok() -> bool:
            roles = self.roles()
            return self.leader() is not None and any(
                role == "replica" and state in ("streaming", "running") for role, state in roles.values())
        self.wait_until(ok, "a leader and a streaming replica")

    def kill_primary(self) -> str:
        name = self.leader()
        assert name is not None, self.roles()
        self._kill(self.members[name])
        self.killed.append(name)
        return name

    def _kill(self, m: Member) -> None:
        if m.process is not None and m.process.poll() is None:
            os.killpg(m.process.pid, signal.SIGKILL)
            m.process.wait()
        pidfile = m.data_dir / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().split()[0])
            os.kill(pid, signal.SIGKILL)  # the postmaster: its children end with it
        except (OSError, ValueError, IndexError):
            pass

    def stop(self) -> None:
        for m in self.members.values():
            self._kill(m)
        if self.etcd.poll() is None:
            self.etcd.kill()
            self.etcd.wait()
        time.sleep(0.2)
        shutil.rmtree(self.base, ignore_errors=True)


def _member_config(scope: str, m: Member, etcd_port: int, base: Path, bindir: str) -> str:
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
  bin_dir: {bindir}
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


def start() -> PatroniCluster:
    for binary in (ETCD, PATRONI):
        if not Path(binary).exists():
            raise RuntimeError(f"{binary} is missing: run `make setup` (installs etcd-server and patroni)")
    bindir = _bindir()
    base = Path(tempfile.mkdtemp(prefix="gateway-patroni-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        os.chown(base, pg.pw_uid, pg.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    etcd_client, etcd_peer, pg1, pg2, api1, api2 = _free_ports(6)
    etcd_log = (base / "etcd.log").open("wb")
    etcd = subprocess.Popen(
        [ETCD, "--name", "e1", "--data-dir", str(base / "etcd"),
         "--listen-client-urls", f"http://127.0.0.1:{etcd_client}", "--advertise-client-urls", f"http://127.0.0.1:{etcd_client}",
         "--listen-peer-urls", f"http://127.0.0.1:{etcd_peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{etcd_peer}",
         "--initial-cluster", f"e1=http://127.0.0.1:{etcd_peer}", "--listen-metrics-urls", ""],
        stdout=etcd_log, stderr=subprocess.STDOUT, start_new_session=True)
    etcd_log.close()
    members = {name: Member(name, pg_port, api_port, base / name)
               for name, pg_port, api_port in (("pg1", pg1, api1), ("pg2", pg2, api2))}
    cluster = PatroniCluster(base, etcd, members, run_as)
    try:
        cluster.wait_until(lambda: _etcd_healthy(etcd_client), "etcd", timeout=30)
        scope = "gw-" + uuid.uuid4().hex[:8]
        for i, m in enumerate(members.values()):
            config = base / f"{m.name}.yml"
            config.write_text(_member_config(scope, m, etcd_client, base, bindir))
            if run_as:
                os.chown(config, pwd.getpwnam("postgres").pw_uid, -1)
            log = (base / f"{m.name}.log").open("wb")
            m.process = subprocess.Popen([*run_as, PATRONI, str(config)], stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
            log.close()
            if i == 0:  # the first bootstraps the cluster; the second then clones it
                cluster.wait_until(lambda: cluster.leader() == "pg1", "pg1 as the leader")
        cluster.wait_streaming()
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _etcd_healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
            return json.load(r).get("health") == "true"
    except OSError:
        return False
