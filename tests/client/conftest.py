"""One gateway with its portal and its SFTP server on 127.0.0.1, for the contractor's client.

Hand-overs are sent inside the 2020 approval's period (the gateway's clock fixed there, through
the command line); the servers then run on the real clock, as `gateway-client` on the contractor's
machine signs with the real time: a signature dated ahead of the gateway's clock is refused.
"""
from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from gateway.channels.lgwan_asp import terminals
from gateway.channels.lgwan_asp.auth import HASHER
from gateway.channels.lgwan_asp.server import PortalServer
from gateway.channels.vpn_sftp.server import SftpServer
from gateway.clock import Clock, FixedClock
from gateway.home import Home
from gateway.ledger.log import Actor
from gateway.service import Gateway
from gateway.store import models as m
from tests.conftest import APPROVALS, BIN, run_gateway
from tests.sftp.conftest import keypair

PASSWORD = "correct-horse-battery-2020"
SENT_AT = "2020-06-01T10:00:00+09:00"


@dataclass
class World:
    root: Path
    home: Path
    gw: Gateway
    portal: str
    sftp: str
    host_key: Path
    p12: dict[str, Path]
    p12_password: dict[str, Path]
    password_file: Path
    keys: dict[str, Path]
    transfers: dict[str, dict]  # "vpn", "lgwan": what `gateway send --json` answered

    def passphrase_file(self, which: str) -> Path:
        path = self.root / f"{which}.pass"
        path.write_text(self.transfers[which]["passphrase"] + "\n")
        return path

    def portal_args(self, login: str) -> list[str]:
        return ["--p12", str(self.p12[login]), "--p12-password-file", str(self.p12_password[login]),
                "--portal", self.portal, "--password-file", str(self.password_file), "--key", str(self.keys[login])]

    def sftp_args(self, login: str) -> list[str]:
        return ["--sftp", self.sftp, "--host-key", str(self.host_key), "--login", login, "--key", str(self.keys[login])]

    def client(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """The installed `gateway-client` console script, as a contractor runs it."""
        proc = subprocess.run([str(BIN / "gateway-client"), *args], capture_output=True, text=True,
                              env={k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")})
        if check and proc.returncode != 0:
            raise AssertionError(f"gateway-client {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def send(self, profile: str) -> dict:
        source = self.root / "recipients.csv"
        return json.loads(run_gateway(
            "send", str(source), "--approval", "kurume-2020-teigaku", "--recipient", "chikugo-print", "--profile",
            profile, "--password-delivery", "registered-mail", "--as", "s.staff", "--paper-ref", "送付依頼書 1",
            "--json", env=FAKE).stdout)


FAKE = {"GATEWAY_FAKE_NOW": SENT_AT, "GATEWAY_SCRYPT_WORK_FACTOR": "10"}


@pytest.fixture(autouse=True)
def _commands_on_the_worlds_home(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's `gateway` commands act on the world's home on the real clock, whatever another
    package's fixtures (interleaved by pytest-randomly) left in the environment."""
    if "world" in request.fixturenames:
        monkeypatch.setenv("GATEWAY_HOME", str(request.getfixturevalue("world").home))
        monkeypatch.delenv("GATEWAY_DB_URL", raising=False)
        monkeypatch.delenv("GATEWAY_FAKE_NOW", raising=False)


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("client")
    home = root / "home"
    saved = {k: os.environ.get(k) for k in ("GATEWAY_HOME", "GATEWAY_DB_URL", "GATEWAY_FAKE_NOW",
                                            "GATEWAY_SCRYPT_WORK_FACTOR")}
    os.environ.update(GATEWAY_HOME=str(home))
    for k in ("GATEWAY_DB_URL", "GATEWAY_FAKE_NOW"):
        os.environ.pop(k, None)
    try:
        # A rehearsal home: the setting-up and the sends happen in the approval's period (2020); the
        # servers and the contractors' signatures then run on the real clock, later in the same log.
        run_gateway("init", "--rehearsal", env=FAKE)
        # These tests are about the client over both channels, and each module sends VPN packages of
        # its own: this world's copy of the approval drops Kurume's "VPN for the set-up only" rule
        # (first_transfer_only), which tests/safeguards and tests/sftp hold the gateway to.
        approval = root / "kurume-2020-teigaku.toml"
        approval.write_text((APPROVALS / "kurume-2020-teigaku.toml").read_text(encoding="utf-8")
                            .replace('first_transfer_only = ["vpn-sftp"]\n', ""), encoding="utf-8")
        run_gateway("approval", "add", str(approval), env=FAKE)
        run_gateway("user", "add", "s.staff", "--org", "kurume", "--role", "staff", "--name", "職員", env=FAKE)
        keys = {login: keypair(root, login) for login in ("k.tanaka", "x.outsider")}
        run_gateway("user", "add", "x.outsider", "--org", "chikugo-print", "--role", "contractor", "--name", "部外",
                    env=FAKE)
        for login, key in keys.items():
            run_gateway("user", "add-key", login, f"{key}.pub", env=FAKE)
        run_gateway("generate", "recipients", "--count", "500", "--seed", "3", "-o", str(root / "recipients.csv"))
        gw = Gateway.open(Home(home), FixedClock(datetime.fromisoformat(SENT_AT)))
        admin = Actor(user="cli:test", role="admin")
        p12, p12_password = {}, {}
        for login in ("k.tanaka", "x.outsider"):
            with gw.unit() as s:
                u = s.query(m.User).filter_by(login=login).one()
                u.password_hash, u.must_change_password = HASHER.hash(PASSWORD), False
            issued = terminals.issue(gw, login, root / "terminals", actor=admin)
            p12[login] = issued.p12
            p12_password[login] = root / f"{login}.p12pass"
            p12_password[login].write_text(issued.p12_password)
        password_file = root / "portal.pass"
        password_file.write_text(PASSWORD)
        host_key = root / "gateway_host_key.pub"
        host_key.write_text((home / "keys" / "ssh_host_ed25519_key.pub").read_text())
        w = World(root, home, gw, "", "", host_key, p12, p12_password, password_file, keys, {})
        w.transfers = {"vpn": w.send("vpn-sftp"), "lgwan": w.send("lgwan-asp")}
        gw.engine.dispose()
        gw = w.gw = Gateway.open(Home(home), Clock())
        portal = PortalServer(gw, "127.0.0.1", 0).start()
        sftp = SftpServer(gw, "127.0.0.1", 0).start()
        try:
            w.portal, w.sftp = f"https://127.0.0.1:{portal.port}", f"127.0.0.1:{sftp.port}"
            yield w
        finally:
            portal.stop()
            sftp.stop()
            gw.engine.dispose()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
