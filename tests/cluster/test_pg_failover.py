"""The PostgreSQL primary killed mid-send (issue 24, item 4): Patroni promotes the synchronous
replica, the gateway finds it through libpq's multi-host URL (`target_session_attrs=read-write`),
the send in flight either failed cleanly or completed, nothing is half-written, later sends go to
the new primary, and the log verifies."""
from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from gateway.cluster import patroni as patroni_cluster
from tests.conftest import APPROVALS, BIN, IN_PERIOD, REHEARSAL_START, city_policy, run_audit, run_gateway

pytestmark = pytest.mark.postgres


@pytest.fixture
def patroni():
    cluster = patroni_cluster.start()
    try:
        yield cluster
    finally:
        cluster.remove()


def _send(source, check: bool = True, profile: str = "lgwan-asp"):
    # The first hand-over over Kurume's VPN line (for the set-up only), later ones over LGWAN-ASP.
    return run_gateway("send", str(source), "--approval", "kurume-2020-teigaku", "--recipient", "chikugo-print",
                       "--profile", profile, "--password-delivery", "registered-mail", "--as", "s.staff",
                       "--paper-ref", "書面 1", "--json", check=check)


def test_the_primary_killed_mid_send_fails_cleanly_or_completes_and_the_log_verifies(patroni, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("GATEWAY_HOME", str(home))
    monkeypatch.setenv("GATEWAY_DB_URL", patroni.url)
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    run_gateway("init", "--rehearsal", env={"GATEWAY_FAKE_NOW": REHEARSAL_START})
    monkeypatch.setenv("GATEWAY_FAKE_NOW", IN_PERIOD)
    run_gateway("approval", "add", str(APPROVALS / "kurume-2020-teigaku.toml"))
    run_gateway("user", "add", "s.staff", "--org", "kurume", "--role", "staff", "--name", "職員 一郎")
    source = tmp_path / "recipients.csv"
    run_gateway("generate", "recipients", "--count", "20000", "--schema", "kurume-2020", "--seed", "7", "-o", str(source))
    first = json.loads(_send(source, profile="vpn-sftp").stdout)

    in_flight = subprocess.Popen(
        [str(BIN / "gateway"), "send", str(source), "--approval", "kurume-2020-teigaku", "--recipient", "chikugo-print",
         "--profile", "lgwan-asp", "--password-delivery", "registered-mail", "--as", "s.staff", "--paper-ref", "書面 1",
         "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    time.sleep(2.5)
    old = patroni.kill_primary()
    out, err = in_flight.communicate(timeout=180)
    patroni.wait_until(lambda: patroni.leader() not in (None, old), "the replica promoted")

    transfers = {first["transfer"]}
    if in_flight.returncode == 0:
        transfers.add(json.loads(out)["transfer"])
    else:  # failed cleanly: said so in both languages, no traceback, nothing of it stored
        assert "Traceback" not in err, err
        answer = json.loads(out)
        assert answer["category"] in ("unavailable", "busy"), answer
        assert answer["ja"] and answer["en"]
    after = json.loads(_send(source).stdout)  # the new primary takes the writes
    transfers.add(after["transfer"])

    log = json.loads(run_gateway("log", "--json").stdout)
    sent = {e["object"]["transfer"] for e in log if e["action"] == "transfer.send" and e["outcome"] == "ok"}
    assert sent == transfers
    doctor = json.loads(run_gateway("doctor", "--json", check=False).stdout)
    blobs = next(c for c in doctor["checks"] if c["check"] == "blobs")
    assert blobs["status"] == "ok", blobs  # every stored package has its key and its file, and no more
    assert f"{len(transfers)} packages" in " ".join(blobs["details"])
    bundle = tmp_path / "bundle"
    run_gateway("export", "evidence", "--approval", "kurume-2020-teigaku", "-o", str(bundle))
    policy = city_policy(home)
    verified = run_audit("verify", str(bundle), trust=policy)
    assert verified.returncode == 0, verified.stdout + verified.stderr
