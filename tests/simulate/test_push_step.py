"""The `push` step's contractor sshd: a clear message without OpenSSH, and stopped when a run fails."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from gateway.errors import GatewayError
from gateway.simulate import opensshd
from gateway.simulate.runner import StepFailed, simulate
from gateway.simulate.scenario import load

SCENARIO = """
name = "push-then-refused"
title = "push, then a send the gateway refuses"
approvals = ["kurume-2020-teigaku"]
start = 2020-05-18T09:30:00+09:00

[population]
records = 60
schema = "kurume-2020"
encoding = "cp932"

[[users]]
login = "kurume.staff"
org = "kurume"
role = "staff"
name = "給付金室 職員"

[[steps]]
action = "send"
id = "setup"
approval = "kurume-2020-teigaku"
profile = "vpn-sftp"
recipient = "chikugo-print"
notice = "registered-mail"

[[steps]]
after = "5m"
action = "push"
transfer = "setup"

[[steps]]
after = "5m"
action = "send"
approval = "kurume-2020-teigaku"
profile = "vpn-sftp"
recipient = "unlisted-print-shop"
notice = "registered-mail"

[[steps]]
after = "1d"
action = "export"
"""


@pytest.fixture(autouse=True)
def fast_scrypt(monkeypatch):
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    monkeypatch.delenv("GATEWAY_FAKE_NOW", raising=False)


def _scenario(tmp_path: Path):
    path = tmp_path / "push-then-refused.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    return load(str(path))


def test_without_openssh_the_push_step_says_to_run_make_setup(tmp_path, monkeypatch):
    monkeypatch.setattr(opensshd, "SSHD", str(tmp_path / "no-such-sshd"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no sshd to be found on the PATH either
    with pytest.raises(StepFailed) as failed:
        simulate(_scenario(tmp_path), tmp_path / "out", records=None, seed=1, faults=[], echo=lambda _: None)
    err = failed.value
    assert "sshd" in err.ja and "make setup" in err.ja and "openssh-server" in err.ja
    assert "step 'push' failed" in err.en and "make setup" in err.en and "openssh-server" in err.en
    assert isinstance(err.__cause__, GatewayError)
    assert not (tmp_path / "out" / "contractor-sshd" / "ssh_host_ed25519_key").exists()  # nothing half made


def test_the_sshd_is_stopped_when_a_later_step_fails(tmp_path):
    with pytest.raises(StepFailed) as failed:
        simulate(_scenario(tmp_path), tmp_path / "out", records=None, seed=1, faults=[], echo=lambda _: None)
    assert "unlisted-print-shop" in failed.value.en or "recipient" in failed.value.en
    root = tmp_path / "out" / "contractor-sshd"
    assert len(list((root / "incoming").glob("T*.age"))) == 1  # the push itself went through
    port = int(next(line.split()[1] for line in (root / "sshd_config").read_text().splitlines()
                    if line.startswith("Port ")))
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
