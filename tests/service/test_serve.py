"""`gateway serve` under systemd-like supervision (issue 22, item 2): readiness over a real
NOTIFY_SOCKET, /healthz and Prometheus metrics on a loopback port, the operational log as JSON
lines on stderr, `--log-level`, and a SIGTERM that lets the transfer in flight finish."""
from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import time

import paramiko
import pytest

from gateway.service_ops.sdnotify import notify
from tests.conftest import BIN, run_gateway
from tests.sftp.conftest import keypair


def sftp_client(home, port: int, key) -> tuple[paramiko.SSHClient, paramiko.SFTPClient]:
    """A real SSH client that trusts exactly the gateway's host key."""
    client = paramiko.SSHClient()
    _kind, blob = (home / "keys" / "ssh_host_ed25519_key.pub").read_text().split()[:2]
    client.get_host_keys().add(f"[127.0.0.1]:{port}", "ssh-ed25519", paramiko.Ed25519Key(data=base64.b64decode(blob)))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect("127.0.0.1", port, username="k.tanaka", key_filename=str(key), look_for_keys=False,
                   allow_agent=False, timeout=10)
    return client, client.open_sftp()


def samples(text: str) -> dict[str, float]:
    """Prometheus text exposition: every sample line, by its name and labels."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def refused_entries(home) -> list[dict]:
    return json.loads(run_gateway("--home", str(home), "log", "--json", "--outcome", "refused", "--limit", "100000").stdout)


def test_ready_healthy_measured_and_a_transfer_in_flight_finishes_after_sigterm(serving, installation, tmp_path):
    home = installation.home
    service = serving("--sftp-port", "0", "--portal-port", "0", "--metrics-port", "0", "--grace", "30")
    status, kind, body = service.get("/healthz")
    assert (status, kind) == (200, "application/json")
    assert json.loads(body) == {"status": "ok", "checks": {"database": True, "scheduler": True, "vpn-sftp": True,
                                                 "lgwan-asp": True}}

    # A refused login (a key the gateway does not know) and a successful one, then the metrics.
    stranger = keypair(tmp_path, "stranger")
    with pytest.raises(paramiko.AuthenticationException):
        sftp_client(home, service.ports["sftp"], stranger)
    client, sftp = sftp_client(home, service.ports["sftp"], installation.key)
    status, kind, body = service.get("/metrics")
    assert status == 200 and kind.startswith("text/plain; version=0.0.4")
    figures = samples(body)
    assert figures["gateway_transfers_total"] >= 1
    assert figures["gateway_transfer_bytes_total"] > 0
    assert figures['gateway_logins_total{channel="vpn-sftp"}'] >= 1
    refusals = refused_entries(home)
    by_kind = sum(len(e.get("kinds") or ["none"]) for e in refusals)
    assert sum(v for k, v in figures.items() if k.startswith("gateway_refusals_total")) == by_kind >= 1
    assert figures["gateway_log_entries"] >= len(refusals)
    assert "# TYPE gateway_due_items gauge" in body
    assert "# TYPE gateway_witness_lag_seconds gauge" in body  # per witness; tests/test_witness_lag.py
    assert service.get("/nothing")[0] == 404

    # A download is under way when systemd stops the unit.
    package = sftp.open(f"/outbox/{installation.transfer}.age", "rb")
    size = package.stat().st_size
    got = bytearray(package.read(1024))
    service.terminate()
    assert service.next_state() == "STOPPING=1\nSTATUS=finishing transfers in flight"
    time.sleep(0.5)
    with pytest.raises(ConnectionRefusedError):  # no one new is let in
        socket.create_connection(("127.0.0.1", service.ports["sftp"]), timeout=5)
    while chunk := package.read(1024):  # ... but the download in flight finishes
        got += chunk
    package.close()
    sftp.close()
    client.close()
    assert len(got) == size > 1024
    (tmp_path / "got.age").write_bytes(got)
    (tmp_path / "pass").write_text(installation.passphrase)
    out = run_gateway("package", "decrypt", str(tmp_path / "got.age"), "-o", str(tmp_path / "plain.csv"),
                      "--passphrase-file", str(tmp_path / "pass")).stdout
    assert installation.sha256 in out  # the whole package, intact
    code, oplog, rest = service.stop()
    assert code == 0, rest
    messages = [line["msg"] for line in oplog]
    assert messages[-2:] == ["stopping", "stopped"]
    assert {"listening", "ready", "stopping", "stopped"} <= set(messages)
    assert all({"ts", "level", "logger", "msg"} <= set(line) for line in oplog)
    assert not any("warning" == line["level"] for line in oplog)  # nothing was cut
    # The access log is apart: it has the download, the operational log has none of it.
    assert not any(installation.transfer in json.dumps(line) for line in oplog)


def test_a_session_still_open_at_the_end_of_the_grace_is_cut_and_said(serving, installation):
    service = serving("--sftp-port", "0", "--grace", "1")
    client, sftp = sftp_client(installation.home, service.ports["sftp"], installation.key)
    began = time.monotonic()
    code, oplog, rest = service.stop(timeout=30)
    assert code == 0, rest
    assert time.monotonic() - began < 15
    cut = [line for line in oplog if line["level"] == "warning"]
    assert cut and cut[0]["sessions"] == 1, oplog
    client.close()


def test_log_level_warning_keeps_info_out(serving, installation):
    service = serving("--sftp-port", "0", "--log-level", "warning")
    code, oplog, _ = service.stop()
    assert code == 0 and oplog == []


def test_serve_says_where_its_home_is_instead_of_making_one_here(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("GATEWAY_HOME", "GATEWAY_DB_URL")}
    proc = subprocess.run([str(BIN / "gateway"), "serve", "--sftp-port", "0"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "GATEWAY_HOME" in proc.stderr and "--home" in proc.stderr
    assert not (tmp_path / "var").exists()


def test_notify_reaches_a_real_datagram_socket_and_is_silent_without_one(tmp_path, monkeypatch):
    path = tmp_path / "n.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        assert notify("READY=1", "STATUS=x")
        assert sock.recv(100) == b"READY=1\nSTATUS=x"
    name = f"gateway-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)  # systemd may hand an abstract socket: "@name"
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify("STOPPING=1")
        assert sock.recv(100) == b"STOPPING=1"
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not notify("READY=1")


def test_a_lockout_is_counted_once_by_channel(serving, installation, tmp_path):
    service = serving("--sftp-port", "0", "--metrics-port", "0", env={"GATEWAY_SFTP_MAX_FAILURES": "2"})
    before = samples(service.get("/metrics")[2]).get('gateway_lockouts_total{channel="vpn-sftp"}', 0)
    stranger = keypair(tmp_path, "stranger")
    for _ in range(3):
        with pytest.raises(paramiko.SSHException):  # AuthenticationException, or cut once locked
            sftp_client(installation.home, service.ports["sftp"], stranger)
    figures = samples(service.get("/metrics")[2])
    assert figures['gateway_lockouts_total{channel="vpn-sftp"}'] == before + 1
    assert figures['gateway_refusals_total{kind="brute-force"}'] >= 1
    code, _, rest = service.stop()
    assert code == 0, rest
