"""`gateway push` against a real OpenSSH sshd: pinned host key, temporary name, read-back check."""
from __future__ import annotations

import hashlib
import json
import subprocess

import pytest

from gateway.simulate.opensshd import OpenSshd, keygen
from tests.conftest import run_gateway
from tests.sftp.conftest import ENV, log


@pytest.fixture
def env(installation, monkeypatch):
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("GATEWAY_HOME", str(installation.home))
    monkeypatch.delenv("GATEWAY_DB_URL", raising=False)
    return installation


@pytest.fixture
def sshd(tmp_path):
    server = OpenSshd.create(tmp_path / "sshd").start()
    yield server
    server.stop()


def pin(sshd: OpenSshd, remote, key_file=None) -> subprocess.CompletedProcess:
    out = run_gateway("org", "pin-host", "chikugo-print", "--host", "127.0.0.1", "--port", str(sshd.port),
                      "--host-key", str(key_file or str(sshd.host_key) + ".pub"), "--user", sshd.user,
                      "--dir", str(remote))
    sshd.authorize(out.stdout.strip().splitlines()[-1])  # the gateway's push key, printed for the contractor
    return out


def test_push_to_openssh_is_verified_renamed_and_refused_when_the_host_key_changes(env, sshd, tmp_path):
    remote = tmp_path / "incoming"
    remote.mkdir()
    pin(sshd, remote)
    done = json.loads(run_gateway("push", env.transfer, "--as", "s.staff", "--paper-ref", "書面 1", "--json").stdout)
    landed = remote / f"{env.transfer}.age"
    assert [p.name for p in remote.iterdir()] == [landed.name]  # no temporary file left beside it
    assert hashlib.sha256(landed.read_bytes()).hexdigest() == done["sha256"]
    pushed = log(env.home, action="transfer.push", outcome="ok")[-1]
    assert pushed["object"]["blob_sha256"] == done["sha256"] and pushed["channel"] == "vpn-sftp"
    assert pushed["actor"]["user"] == "s.staff"

    # The same address now answers with another host key: a man in the middle, or a rebuilt server.
    landed.unlink()
    sshd.stop()
    impostor = OpenSshd(sshd.root, sshd.port, sshd.user, keygen(tmp_path / "other_host_key"), sshd.authorized_keys)
    impostor.start()
    try:
        proc = run_gateway("push", env.transfer, "--as", "s.staff", "--paper-ref", "書面 1", check=False)
    finally:
        impostor.stop()
    assert proc.returncode == 1 and "host key" in proc.stderr
    assert list(remote.iterdir()) == []
    refused = log(env.home, action="transfer.push", outcome="refused")[-1]
    assert "changed" in refused["reason"] and refused["object"]["transfer"] == env.transfer


def test_push_is_for_the_sending_city_and_a_pinned_server_only(env, sshd, tmp_path):
    remote = tmp_path / "incoming"
    remote.mkdir()
    unpinned = run_gateway("push", env.transfer, "--as", "s.staff", "--paper-ref", "書面 1", check=False)
    if "pinned" not in unpinned.stderr:  # another test in this module pinned already
        assert unpinned.returncode == 1
    pin(sshd, remote)
    contractor = run_gateway("push", env.transfer, "--as", "k.tanaka", "--paper-ref", "書面 1", check=False)
    assert contractor.returncode == 1 and "sending city" in contractor.stderr
    unknown = run_gateway("push", "T20200601-0000000000", "--as", "s.staff", "--paper-ref", "書面 1", check=False)
    assert unknown.returncode == 1
    assert list(remote.iterdir()) == []


@pytest.mark.parametrize("content", ["", "garbage", "ssh-ed25519 !!!notbase64", "ssh-dss AAAAB3NzaC1kc3MAAACBAP"])
def test_pin_host_refuses_bad_host_keys(env, tmp_path, content):
    key = tmp_path / "host.pub"
    key.write_text(content)
    proc = run_gateway("org", "pin-host", "chikugo-print", "--host", "127.0.0.1", "--port", "22",
                       "--host-key", str(key), "--user", "u", "--dir", "/in", check=False)
    assert proc.returncode == 1 and "host key" in proc.stderr
