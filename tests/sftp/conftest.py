from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.channels.vpn_sftp.server import Limits, SftpServer
from gateway.home import Home
from gateway.service import Gateway
from tests.conftest import APPROVALS, run_gateway


@dataclass
class Sftp:
    home: Path
    port: int
    known_hosts: Path
    key: Path  # k.tanaka's private key, a designated handler of chikugo-print
    transfer: str
    sha256: str
    passphrase: str
    server: SftpServer
    workdir: Path

    def run(self, commands: str, *, user: str = "k.tanaka", key: Path | None = None) -> subprocess.CompletedProcess:
        """The stock OpenSSH sftp client in batch mode; '-' before a command lets it fail."""
        batch = self.workdir / "batch"
        batch.write_text(commands)
        return subprocess.run(
            ["sftp", "-b", str(batch), "-i", str(key or self.key), "-o", f"UserKnownHostsFile={self.known_hosts}",
             "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
             "-P", str(self.port), f"{user}@127.0.0.1"],
            capture_output=True, text=True, timeout=60, cwd=self.workdir)


def keypair(directory: Path, name: str) -> Path:
    key = directory / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key), "-C", name], check=True)
    return key


@dataclass
class Installation:
    home: Path
    key: Path
    transfer: str
    sha256: str
    passphrase: str
    source: Path


ENV = {"GATEWAY_FAKE_NOW": "2020-06-01T10:00:00+09:00", "GATEWAY_SCRYPT_WORK_FACTOR": "10"}


@pytest.fixture(scope="module")
def installation(tmp_path_factory):
    """One gateway for the module (SQLite): building one through the CLI takes seconds, and every
    test here reads it or adds to it without undoing what another test needs."""
    root = tmp_path_factory.mktemp("sftp")
    saved = {k: os.environ.get(k) for k in (*ENV, "GATEWAY_HOME", "GATEWAY_DB_URL")}
    os.environ.update(ENV, GATEWAY_HOME=str(root / "home"))
    os.environ.pop("GATEWAY_DB_URL", None)
    try:
        run_gateway("init", "--rehearsal")
        run_gateway("approval", "add", str(APPROVALS / "kurume-2020-teigaku.toml"))
        run_gateway("user", "add", "s.staff", "--org", "kurume", "--role", "staff", "--name", "職員")
        key = keypair(root, "tanaka")
        run_gateway("user", "add-key", "k.tanaka", str(key) + ".pub")
        source = root / "r.csv"
        run_gateway("generate", "recipients", "--count", "200", "--seed", "4", "-o", str(source))
        sent = send(source)
        yield Installation(root / "home", key, sent["transfer"], sent["sha256"], sent["passphrase"], source)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def fresh_transfer(installation: Installation, workdir: Path) -> dict:
    """A package of its own for a test that downloads it: each allows one complete download, and
    Kurume's VPN line carries only an approval's first hand-over (first_transfer_only), so it goes
    under a copy of the approval with an id of its own (the module's home is shared)."""
    approval = f"kurume-2020-sftp-{workdir.name.lower().replace('_', '-')[-40:]}"
    text = (APPROVALS / "kurume-2020-teigaku.toml").read_text(encoding="utf-8")
    path = workdir / f"{approval}.toml"
    path.write_text(text.replace('id = "kurume-2020-teigaku"', f'id = "{approval}"', 1), encoding="utf-8")
    run_gateway("approval", "add", str(path))
    return send(installation.source, approval)


def send(source: Path, approval: str = "kurume-2020-teigaku") -> dict:
    return json.loads(run_gateway("send", str(source), "--approval", approval, "--recipient",
                                  "chikugo-print", "--profile", "vpn-sftp", "--password-delivery", "registered-mail",
                                  "--as", "s.staff", "--paper-ref", "書面 1", "--json").stdout)


@pytest.fixture
def sftp(installation, tmp_path, monkeypatch):
    """A fresh server (and fresh per-source limits) on the module's gateway."""
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("GATEWAY_HOME", str(installation.home))
    monkeypatch.delenv("GATEWAY_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    gw = Gateway.open(Home.resolve(str(installation.home)))
    server = SftpServer(gw, "127.0.0.1", 0, Limits(max_failures=5, max_connections=4)).start()
    known = tmp_path / "known_hosts"
    host_key = " ".join((installation.home / "keys" / "ssh_host_ed25519_key.pub").read_text().split()[:2])
    known.write_text(f"[127.0.0.1]:{server.port} {host_key}\n")
    i = installation
    yield Sftp(i.home, server.port, known, i.key, i.transfer, i.sha256, i.passphrase, server, tmp_path)
    server.stop()
    gw.engine.dispose()


def log(home: Path, **filters: str) -> list[dict]:
    args = ["log", "--json"]
    for k, v in filters.items():
        args += [f"--{k}", v]
    return json.loads(run_gateway(*args).stdout)
