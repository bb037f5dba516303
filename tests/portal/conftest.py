"""The real portal over real TLS on 127.0.0.1 and a free port, in a background thread of the test
process, with the gateway clock fixed inside the 2020 approvals' periods (tests may move it).

The home is a rehearsal home begun at the rehearsal time (its TLS certificates are made on the
real clock, which real TLS clients check). The portal's clock and the `gateway` commands the
tests run are one clock (`SharedClock`): the log's times never go back, so a command must not run
at a time before what the portal last recorded.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from gateway.clock import JST, FixedClock
from gateway.home import Home
from gateway.ledger.log import Actor
from gateway.service import Gateway
from gateway.store import models as m
from tests.conftest import APPROVALS, REPO, run_gateway
from tests.helpers import import_dv_list

REHEARSAL = datetime(2020, 6, 1, 10, 0, tzinfo=JST)
PASSWORD = "correct-horse-battery-2020"
# Above the full-size file (305,115 Kurume records are 44.8 MB as CP932 CSV): with the old 20 MiB
# the page answered 413 and the browser test waited for a result that could never come.
MAX_UPLOAD = 64 * 1024 * 1024
FULL_SIZE = 305_115  # Kurume 2020, under the approval's bound of 310,000
SHOTS = REPO / "test-output" / "screenshots"


@dataclass
class Terminal:
    login: str
    cert: Path
    key: Path
    serial: str
    fingerprint: str


@dataclass
class Portal:
    url: str
    port: int
    home: Path
    gw: Gateway
    clock: FixedClock
    ca: Path
    terminals: dict[str, Terminal]
    certs: Path
    opened: list[httpx.Client] = field(default_factory=list)

    def context(self, login: str | None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca))
        if login is not None:
            t = self.terminals[login]
            ctx.load_cert_chain(t.cert, t.key)
        return ctx

    def client(self, login: str | None) -> httpx.Client:
        c = httpx.Client(base_url=self.url, verify=self.context(login), follow_redirects=False, timeout=60)
        # Closed before the server stops: a TLS connection left open makes its shutdown wait.
        self.opened.append(c)
        return c

    def close_clients(self) -> None:
        for c in self.opened:
            c.close()
        self.opened.clear()

    def login(self, login: str, password: str = PASSWORD, terminal: str | None = None) -> httpx.Client:
        c = self.client(terminal or login)
        r = login_post(c, login, password)
        assert r.status_code == 303, r.text
        return c

    def csrf(self, c: httpx.Client, path: str) -> str:
        return csrf_of(c.get(path).text)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def login_post(c: httpx.Client, login: str, password: str) -> httpx.Response:
    token = csrf_of(c.get("/login").text)
    return c.post("/login", data={"csrf": token, "login": login, "password": password})


USERS = {  # login: (org, role); the approvals create their handlers' accounts
    "s.staff": ("kurume", "staff"),
    "sec.officer": ("kurume", "security-officer"),
    "x.outsider": ("chikugo-print", "contractor"),
    "sj.staff": ("shinjuku", "staff"),
    "sj.officer": ("shinjuku", "security-officer"),
}
HANDLERS = ("k.tanaka", "t.kobayashi")


def cli(*args: str) -> str:
    """A `gateway` command run in this process: the console script's own click entry point, without
    starting an interpreter for each call (about 3 s each on a busy machine)."""
    from click.testing import CliRunner

    from gateway.cli import main

    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, f"gateway {' '.join(args)} exited {result.exit_code}\n{result.output}"
    return result.stdout


@pytest.fixture(scope="module")
def admin(portal: Portal) -> Portal:
    """The installation's `admin` account with a password and a terminal of its own, as anyone."""
    from gateway.channels.lgwan_asp import terminals
    from gateway.channels.lgwan_asp.auth import HASHER

    if "admin" not in portal.terminals:
        with portal.gw.unit() as s:
            u = s.query(m.User).filter_by(login="admin").one()
            assert u.role == "admin"
            u.password_hash, u.must_change_password = HASHER.hash(PASSWORD), False
        t = terminals.issue(portal.gw, "admin", portal.certs, actor=Actor(user="cli:test", role="admin"))
        portal.terminals["admin"] = Terminal("admin", t.cert, t.key, t.serial, t.fingerprint)
    return portal


@pytest.fixture(scope="module")
def browser() -> Iterator[tuple]:
    """Headless Chromium's launcher for the browser tests (tests/portal/browsing.py)."""
    from tests.portal.browsing import chromium

    yield from chromium()


@contextmanager
def served(base: Portal) -> Iterator[Portal]:
    """`base` with a portal server of its own on `base.gw`, on a free port; afterwards its clients
    are closed, the server stopped and the engine disposed."""
    from gateway.channels.lgwan_asp.app import PortalSettings
    from gateway.channels.lgwan_asp.server import PortalServer

    server = PortalServer(base.gw, settings=PortalSettings(max_upload_bytes=MAX_UPLOAD)).start()
    p = dataclasses.replace(base, url=f"https://127.0.0.1:{server.port}", port=server.port, opened=[])
    try:
        yield p
    finally:
        p.close_clients()
        server.stop()
        p.gw.engine.dispose()


@pytest.fixture(scope="package")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    from gateway.channels.lgwan_asp import terminals
    from gateway.channels.lgwan_asp.auth import HASHER, issue_initial_password

    root = tmp_path_factory.mktemp("portal")
    home = root / "home"
    saved = {k: os.environ.get(k) for k in ("GATEWAY_HOME", "GATEWAY_DB_URL", "GATEWAY_FAKE_NOW",
                                            "GATEWAY_SCRYPT_WORK_FACTOR")}
    os.environ.update(GATEWAY_HOME=str(home), GATEWAY_DB_URL=f"sqlite:///{home / 'gateway.db'}")
    try:
        os.environ["GATEWAY_FAKE_NOW"] = REHEARSAL.isoformat()
        cli("init", "--rehearsal")
        os.environ["GATEWAY_SCRYPT_WORK_FACTOR"] = "10"  # `age -d` accepts it; 18 is tested elsewhere
        for approval in ("kurume-2020-teigaku", "shinjuku-2020-teigaku"):
            cli("approval", "add", str(APPROVALS / f"{approval}.toml"))
        for login, (org, role) in USERS.items():
            cli("user", "add", login, "--org", org, "--role", role, "--name", f"試験 {login}")
        import_dv_list(cli, root)
        clock = SharedClock(REHEARSAL)
        gw = Gateway.open(Home(home), clock)
        admin = Actor(user="cli:test", role="admin")
        certs = root / "certs"
        tms = {}
        for login in [*USERS, *HANDLERS]:
            issue_initial_password(gw, login, actor=admin)
            with gw.unit() as s:
                u = s.query(m.User).filter_by(login=login).one()
                u.password_hash, u.must_change_password = HASHER.hash(PASSWORD), False
            t = terminals.issue(gw, login, certs, actor=admin)
            tms[login] = Terminal(login, t.cert, t.key, t.serial, t.fingerprint)
        with served(Portal("", 0, home, gw, clock, home / "keys" / "ca.crt", tms, certs)) as p:
            yield p
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class SharedClock(FixedClock):
    """The portal's clock, which the `gateway` commands of the tests follow ($GATEWAY_FAKE_NOW)."""

    def advance(self, delta) -> None:  # type: ignore[no-untyped-def]
        super().advance(delta)
        os.environ["GATEWAY_FAKE_NOW"] = self.now().isoformat()

    def set(self, at: datetime) -> None:
        super().set(at)
        os.environ["GATEWAY_FAKE_NOW"] = self.now().isoformat()


@pytest.fixture(autouse=True)
def _commands_on_the_portal_clock(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's commands act on the portal's home, from where its clock stands (an earlier test
    may have moved it). Set for each test, because pytest-randomly interleaves the modules of other
    packages, whose package fixtures name other homes, with these."""
    if "portal" in request.fixturenames:
        portal = request.getfixturevalue("portal")
        monkeypatch.setenv("GATEWAY_HOME", str(portal.home))
        monkeypatch.setenv("GATEWAY_DB_URL", f"sqlite:///{portal.home / 'gateway.db'}")
        os.environ["GATEWAY_FAKE_NOW"] = portal.clock.now().isoformat()


@pytest.fixture(scope="module", autouse=True)
def clients_closed_after_each_module(portal: Portal) -> Iterator[None]:
    """A module's clients are closed when the module ends. One portal serves every module a worker
    runs, and it admits 32 connections per source address (issue 19): the keep-alive connections
    modules left open added up, and a later module's handshake was reset, depending only on how
    xdist happened to share the modules out (all of tests/portal in one process always failed)."""
    yield
    portal.close_clients()


@pytest.fixture(scope="package")
def recipients_file(portal: Portal, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "recipients.csv"
    run_gateway("generate", "recipients", "--count", "3000", "--schema", "kurume-2020", "--seed", "5", "-o", str(path))
    return path


@pytest.fixture(scope="package")
def full_size_file(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Kurume-size recipient file from `gateway generate recipients` (about 14 s). The output
    is a pure function of the arguments and the generator's code, so it is kept in pytest's cache
    under a key of both and made again only when either changes."""
    args = ["--count", str(FULL_SIZE), "--schema", "kurume-2020", "--encoding", "cp932", "--seed", "2020"]
    code = hashlib.sha256(" ".join(args).encode())
    for src in sorted((REPO / "gateway" / "synthetic").rglob("*.py")):
        code.update(src.read_bytes())
    cached = Path(request.config.cache.mkdir("portal-full-size")) / f"recipients-{code.hexdigest()[:16]}.csv"
    if not cached.exists():
        for old in cached.parent.glob("recipients-*.csv"):
            old.unlink()
        tmp = cached.with_suffix(".tmp")
        run_gateway("generate", "recipients", *args, "-o", str(tmp))
        os.replace(tmp, cached)
    path = tmp_path_factory.mktemp("full") / "kurume-2020-recipients.csv"
    shutil.copyfile(cached, path)
    return path


def send_via_api(portal: Portal, path: Path, *, login: str = "s.staff", approval: str = "kurume-2020-teigaku",
                 recipient: str = "chikugo-print", filename: str = "recipients.csv") -> dict:
    """A transfer sent through the portal's API with a bearer token (for tests that need one)."""
    with portal.client(login) as c:
        token = c.post("/api/v1/tokens", json={"login": login, "password": PASSWORD}).json()["token"]
        with path.open("rb") as f:
            r = c.post("/api/v1/transfers", headers={"authorization": f"Bearer {token}"},
                       data={"approval": approval, "recipient": recipient, "profile": "lgwan-asp",
                             "password_delivery": "registered-mail"},
                       files={"file": (filename, f, "text/csv")})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="package")
def kurume_transfer(portal: Portal, recipients_file: Path) -> dict:
    """One Kurume transfer to chikugo-print (designated handler k.tanaka; x.outsider is of the same
    organisation but not on the list; t.kobayashi and sj.staff are Shinjuku's)."""
    return send_via_api(portal, recipients_file)


@contextmanager
def bearer(portal: Portal, login: str) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """An API client on the user's own terminal and its Authorization header."""
    with portal.client(login) as c:
        r = c.post("/api/v1/tokens", json={"login": login, "password": PASSWORD})
        assert r.status_code == 200, r.text
        yield c, {"authorization": f"Bearer {r.json()['token']}"}


def log_entries(portal: Portal, **filters: str) -> list[dict]:
    """The access log as `gateway log --json` prints it."""
    args = [item for k, v in filters.items() for item in (f"--{k}", v)]
    return json.loads(cli("log", *args, "--json"))
