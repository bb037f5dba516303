"""`gateway demo`: the replay ends audited, and the way it prints into the portal really gets there."""
from __future__ import annotations

import re
import shlex
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import BIN, run_audit, run_gateway


@pytest.fixture
def demo(tmp_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    monkeypatch.delenv("GATEWAY_FAKE_NOW", raising=False)
    monkeypatch.setenv("GATEWAY_HOME", str(tmp_path / "home"))
    return run_gateway("demo", "--records", "200").stdout


def test_demo_replays_kurume_and_the_auditor_verifies_it(demo):
    assert "検証成功 / verified; 指摘 / findings: なし / none" in demo
    bundle = re.search(r"evidence bundle: (\S+)", demo).group(1)
    report = re.search(r"audit report: (\S+)", demo).group(1)
    # One line says which policy and which witnesses the verdict rests on.
    (rests,) = [line for line in demo.splitlines() if "rests on" in line]
    policy = re.search(r"rests on: (\S+/trust\.toml) ", rests).group(1)
    assert "witnesses council.kurume.example.jp/witness, quorum 1" in rests
    out = Path(policy).parent
    assert (out / "witness" / "state").is_dir() and (out / "witness" / "witness.key").is_file()
    assert f"--trust {policy}" in demo
    proc = run_audit("verify", bundle, trust=Path(policy))
    assert proc.returncode == 0 and "council.kurume.example.jp/witness (quorum 1)" in proc.stdout
    assert run_audit("verify", bundle, trust=None, check=False).returncode == 1  # never verified unpinned
    assert open(report, encoding="utf-8").read().startswith("<!DOCTYPE html>")


def test_the_printed_commands_open_the_portal_to_a_security_officer(demo):
    commands = [shlex.split(line.strip()) for line in demo.splitlines() if line.strip().startswith("gateway --home")]
    add, password, terminal, serve = [c for c in commands if c[3] in ("user", "terminal", "serve")]
    assert serve[3:] == ["serve", "--portal-port", "8443"]
    for command in (add, password, terminal):
        out = run_gateway(*command[1:]).stdout
        if command is password:
            secret = out.splitlines()[1].strip()
        if command is terminal:
            cert, key = re.search(r"key, certificate: (\S+), (\S+)", out).group(2, 1)
    home = serve[2]
    proc = subprocess.Popen([str(BIN / "gateway"), *serve[1:-1], "0"], stdout=subprocess.PIPE, text=True)
    try:
        url = re.search(r"(https://127\.0\.0\.1:\d+)/", proc.stdout.readline()).group(1)
        ctx = ssl.create_default_context(cafile=f"{home}/keys/ca.crt")
        ctx.load_cert_chain(cert, key)
        with httpx.Client(base_url=url, verify=ctx) as client:
            r = client.post("/api/v1/tokens", json={"login": "auditor", "password": secret})
        assert r.status_code == 200 and r.json()["must_change_password"] is True
    finally:
        proc.terminate()
        proc.wait(timeout=30)
