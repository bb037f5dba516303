"""A real slapd (tests/directory/slapd.py) and the real portal over mutual TLS on a rehearsal home
whose `[directory]` names it: the city's staff and officers are directory accounts with terminal
certificates of their own, the contractor's handler a local account with a password."""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.clock import FixedClock
from gateway.home import Home
from gateway.ledger.log import Actor
from gateway.service import Gateway
from gateway.store import models as m
from tests.conftest import APPROVALS
from tests.directory.slapd import OFFICER_GROUP, PEOPLE, STAFF_GROUP, Slapd, remove, start_slapd
from tests.portal.conftest import PASSWORD, REHEARSAL, Portal, SharedClock, Terminal, cli, served

LOCAL_HANDLER = "k.tanaka"  # the Kurume approval's contractor handler: a local account
REGISTERED_AS = {login: "staff" for login in PEOPLE} | {"m.kato": "staff"}  # m.kato's groups make an officer


def directory_table(url: str, ca: Path) -> str:
    return (f'[directory]\nurl = "{url}"\ncafile = "{ca}"\norganisation = "kurume"\n'
            'bind_dn = "uid={login},ou=people,dc=kurume,dc=example"\n'
            'group_base = "ou=groups,dc=kurume,dc=example"\ntimeout_seconds = 3\n\n'
            f'[directory.groups]\n"{STAFF_GROUP}" = "staff"\n"{OFFICER_GROUP}" = "security-officer"\n')


@pytest.fixture(scope="package")
def slapd() -> Iterator[Slapd]:
    if not os.path.exists("/usr/sbin/slapd") or shutil.which("ldapmodify") is None:
        pytest.skip("needs slapd and ldap-utils (scripts/install-system-packages installs them)")
    pytest.importorskip("ldap", reason="needs python-ldap (the [directory] extra, in [test])")
    server = start_slapd()
    try:
        yield server
    finally:
        remove(server)


@pytest.fixture(scope="package")
def portal(slapd: Slapd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    from gateway.channels.lgwan_asp import terminals
    from gateway.channels.lgwan_asp.auth import HASHER, issue_initial_password

    root = tmp_path_factory.mktemp("directory-portal")
    home = root / "home"
    saved = {k: os.environ.get(k) for k in ("GATEWAY_HOME", "GATEWAY_DB_URL", "GATEWAY_FAKE_NOW")}
    os.environ.update(GATEWAY_HOME=str(home), GATEWAY_DB_URL=f"sqlite:///{home / 'gateway.db'}",
                      GATEWAY_FAKE_NOW=REHEARSAL.isoformat())
    try:
        cli("init", "--rehearsal")
        with (home / "gateway.toml").open("a", encoding="utf-8") as f:
            f.write("\n" + directory_table(slapd.starttls_url, slapd.ca))
        cli("approval", "add", str(APPROVALS / "kurume-2020-teigaku.toml"))
        for login, (name, _groups) in PEOPLE.items():
            cli("user", "add", login, "--org", "kurume", "--role", REGISTERED_AS[login], "--name", name, "--directory")
        clock: FixedClock = SharedClock(REHEARSAL)
        gw = Gateway.open(Home(home), clock)
        admin = Actor(user="cli:test", role="admin")
        issue_initial_password(gw, LOCAL_HANDLER, actor=admin)
        with gw.unit() as s:
            u = s.query(m.User).filter_by(login=LOCAL_HANDLER).one()
            u.password_hash, u.must_change_password = HASHER.hash(PASSWORD), False
        certs = root / "certs"
        tms = {}
        for login in [*PEOPLE, LOCAL_HANDLER]:
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


@pytest.fixture(autouse=True)
def _commands_on_the_portal_clock(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' commands act on the directory portal's home, from where its clock stands."""
    if "portal" in request.fixturenames:
        portal = request.getfixturevalue("portal")
        monkeypatch.setenv("GATEWAY_HOME", str(portal.home))
        monkeypatch.setenv("GATEWAY_DB_URL", f"sqlite:///{portal.home / 'gateway.db'}")
        os.environ["GATEWAY_FAKE_NOW"] = portal.clock.now().isoformat()


@contextmanager
def directory_as(portal: Portal, **changes: Any) -> Iterator[None]:
    """The running portal's `[directory]` with `changes` (another URL, another CA) for one test:
    the portal reads its settings at each login, as it reads the file at each start."""
    import dataclasses

    before = portal.gw.settings
    assert before.directory is not None
    portal.gw.settings = dataclasses.replace(before, directory=dataclasses.replace(before.directory, **changes))
    try:
        yield
    finally:
        portal.gw.settings = before


def last_seq(portal: Portal) -> int:
    with portal.gw.read() as s:
        return int(s.scalar(select(func.max(m.LogEntry.seq))) or 0)


def entries_after(portal: Portal, seq: int) -> list[dict[str, Any]]:
    with portal.gw.read() as s:
        return [json.loads(b) for b in s.scalars(select(m.LogEntry.body).where(m.LogEntry.seq > seq)
                                                  .order_by(m.LogEntry.seq))]
