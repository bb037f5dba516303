"""Two `gateway serve` nodes on one PostgreSQL and one object store (a real SeaweedFS), HAProxy in
TCP mode in front (issue 24, items 1, 2 and 4). Every process started here is stopped here, also
when the test fails."""
from __future__ import annotations

import os
import shutil
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from gateway.clock import FixedClock
from gateway.home import Home
from gateway.ledger.log import Actor
from gateway.service import Gateway
from gateway.store import models as m
from gateway.cluster import haproxy
from tests.conftest import APPROVALS, IN_PERIOD, REHEARSAL_START, run_gateway
from tests.objectstore.conftest import seaweed  # noqa: F401  (fixture: the session's SeaweedFS)
from tests.service.conftest import Service, start

PASSWORD = "correct-horse-battery-2020"
LOGINS = {"s.staff": ("kurume", "staff"), "k.tanaka": None}  # k.tanaka: the approval's handler


@dataclass
class Cluster:
    homes: dict[str, Path]
    ports: dict[str, int]
    nodes: dict[str, Service]
    proxy: haproxy.Haproxy | None
    certs: dict[str, tuple[Path, Path]]
    env: dict[str, str]
    tmp: Path
    opened: list[httpx.Client] = field(default_factory=list)
    sftp_ports: dict[str, int] = field(default_factory=dict)

    @property
    def ca(self) -> Path:
        return self.homes["node-a"] / "keys" / "ca.crt"

    def client(self, login: str, port: int | None = None) -> httpx.Client:
        """A client on `login`'s own terminal, to HAProxy (or to one node's `port`)."""
        ctx = ssl.create_default_context(cafile=str(self.ca))
        ctx.load_cert_chain(*self.certs[login])
        assert port or self.proxy is not None
        c = httpx.Client(base_url=f"https://127.0.0.1:{port or self.proxy.port}", verify=ctx, timeout=60)
        self.opened.append(c)
        return c

    def token(self, login: str, port: int | None = None) -> dict[str, str]:
        r = self.client(login, port).post("/api/v1/tokens", json={"login": login, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"authorization": f"Bearer {r.json()['token']}"}

    def close_clients(self) -> None:
        for c in self.opened:
            c.close()
        self.opened.clear()

    def start_node(self, name: str, env: dict[str, str] | None = None) -> Service:
        node_tmp = self.tmp / f"run-{name}-{len(list(self.tmp.glob(f'run-{name}-*')))}"
        node_tmp.mkdir()
        # A retention round every second: the lead passes within seconds when its node dies.
        service = start(self.homes[name], node_tmp, "--portal-port", str(self.ports.get(name, 0)), "--grace", "2",
                        "--sftp-port", str(self.sftp_ports.get(name, 0)), "--sweep-interval", "1",
                        env={**self.env, "GATEWAY_CLUSTER_NODE": name, **(env or {})})
        self.ports[name] = service.ports["portal"]
        self.sftp_ports[name] = service.ports["sftp"]
        self.nodes[name] = service
        return service

    def kill_node(self, name: str) -> list[dict]:
        """SIGKILL, as a machine that dies; returns the operational log it wrote until then."""
        service = self.nodes[name]
        service.proc.kill()
        _, err = service.proc.communicate()
        return oplog_of(err)

    def stop_node(self, name: str) -> list[dict]:
        service = self.nodes[name]
        service.terminate()
        _, err = service.proc.communicate(timeout=60)
        return oplog_of(err)

    def stop(self) -> None:
        self.close_clients()
        for service in self.nodes.values():
            if service.proc.poll() is None:
                service.terminate()
                try:
                    _, err = service.proc.communicate(timeout=30)
                except Exception:
                    service.proc.kill()
                    _, err = service.proc.communicate()
                # Shown by pytest when the test failed: what the node logged as errors.
                print("\n".join(line for line in err.splitlines() if '"level": "error"' in line or "Error" in line))
            service.notify.close()
        if self.proxy is not None:
            self.proxy.remove()


def oplog_of(stderr: str) -> list[dict]:
    import json

    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def _prepare(home: Path, db_url: str, blobs_url: str, certs_dir: Path) -> dict[str, tuple[Path, Path]]:
    from gateway.channels.lgwan_asp import terminals
    from gateway.channels.lgwan_asp.auth import HASHER, issue_initial_password

    run_gateway("init", "--rehearsal", env={"GATEWAY_FAKE_NOW": REHEARSAL_START})
    with (home / "gateway.toml").open("a", encoding="utf-8") as f:
        f.write(f'\n[blobs]\nurl = "{blobs_url}"\n')
    run_gateway("approval", "add", str(APPROVALS / "kurume-2020-teigaku.toml"))
    run_gateway("user", "add", "s.staff", "--org", "kurume", "--role", "staff", "--name", "職員 一郎")
    gw = Gateway.open(Home(home), FixedClock(datetime.fromisoformat(IN_PERIOD)))
    certs = {}
    try:
        admin = Actor(user="cli:test", role="admin")
        for login in LOGINS:
            issue_initial_password(gw, login, actor=admin)
            with gw.unit() as s:
                u = s.query(m.User).filter_by(login=login).one()
                u.password_hash, u.must_change_password = HASHER.hash(PASSWORD), False
            t = terminals.issue(gw, login, certs_dir, actor=admin)
            certs[login] = (t.cert, t.key)
    finally:
        gw.engine.dispose()
    return certs


@pytest.fixture
def cluster(postgres, seaweed, tmp_path, monkeypatch) -> Iterator[Cluster]:  # noqa: F811
    db_url = postgres.new_database()
    home_a, home_b = tmp_path / "node-a", tmp_path / "node-b"
    env = {"GATEWAY_DB_URL": db_url, "GATEWAY_FAKE_NOW": IN_PERIOD, "GATEWAY_SCRYPT_WORK_FACTOR": "10",
           **seaweed.environ}
    for k, v in {**env, "GATEWAY_HOME": str(home_a)}.items():
        monkeypatch.setenv(k, v)
    certs = _prepare(home_a, db_url, seaweed.url("cluster-" + tmp_path.name[-12:]), tmp_path / "certs")
    # The second node: the same keys and settings (as an installer copies them to a new machine),
    # its own work area; the database and the object store are the ones node A uses.
    shutil.copytree(home_a, home_b, ignore=shutil.ignore_patterns("blobs", "work", "exports", "*.lock"))
    nodes: dict[str, Service] = {}
    c = Cluster({"node-a": home_a, "node-b": home_b}, {}, nodes, None, certs, env, tmp_path)
    try:
        c.start_node("node-a")
        c.start_node("node-b")
        c.proxy = haproxy.start(c.ports, tmp_path / "haproxy", sftp=c.sftp_ports)
        yield c
    finally:
        c.stop()


def entries(home: Path) -> list[dict]:
    """The log's entries as stored (with the node that appended each), oldest first."""
    import json

    from sqlalchemy import select

    gw = Gateway.open(Home(home), FixedClock(datetime.fromisoformat(os.environ["GATEWAY_FAKE_NOW"])))
    try:
        with gw.read() as s:
            return [json.loads(b) for b in s.scalars(select(m.LogEntry.body).order_by(m.LogEntry.seq))]
    finally:
        gw.engine.dispose()


@pytest.fixture
def kurume_file(tmp_path) -> Path:
    out = tmp_path / "recipients.csv"
    run_gateway("generate", "recipients", "--count", "300", "--schema", "kurume-2020", "--seed", "7", "-o", str(out))
    return out


@pytest.fixture
def db_url(postgres):
    """Several nodes share one PostgreSQL: the tests of this package run on it."""
    return postgres.new_database()
