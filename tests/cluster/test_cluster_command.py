"""`gateway cluster up|status|down` for real (issue 24, item 6): every server it starts is
healthy and reachable through HAProxy after `up`, and gone after `down`; a Ctrl-C half-way
through `up` (or a SIGTERM) leaves nothing running either. Small: one node."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from gateway.cluster import supervisor
from tests.conftest import BIN, run_gateway

pytestmark = pytest.mark.postgres


def _running_under(*directories: Path) -> list[str]:
    """Every process whose command line names one of `directories` (each server is started with its
    data there; the database part may be elsewhere, where DIR/pg points)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if any(str(d) in argv for d in directories) and state != "Z":
            found.append(f"{proc.name}: {argv[:120]}")
    return found


def test_up_status_down_start_and_stop_every_server(tmp_path):
    directory = tmp_path / "cluster"
    try:
        up = run_gateway("cluster", "up", "--dir", str(directory), "--nodes", "1", "--json")
        found = json.loads(up.stdout)
        pg_dir = (directory / "pg").resolve()
        assert found["db_url"].count("host=127.0.0.1:") == 2 and "target_session_attrs=read-write" in found["db_url"]
        assert found["s3_endpoint"].startswith("http://127.0.0.1:") and list(found["nodes"]) == ["node-a"]

        status = json.loads(run_gateway("cluster", "status", "--dir", str(directory), "--json").stdout)
        assert status["healthy"] and [p["part"] for p in status["parts"]] == ["patroni", "seaweedfs", "node-a",
                                                                              "haproxy"]
        assert sorted(status["parts"][0]["roles"].values()) == ["leader", "sync_standby"]
        # HAProxy's SFTP frontend reaches the node's SSH server (the banner is the node's).
        host, port = found["sftp"].split(":")
        with socket.create_connection((host, int(port)), timeout=10) as s:
            assert s.recv(64).startswith(b"SSH-2.0-")
        # HAProxy sends each client's address (PROXY v2): a login refused through it is logged with
        # the client's source, not the balancer's (127.0.0.1); the node reads no header from elsewhere.
        _sftp_login(tmp_path, port, source="127.0.0.2")
        node_sftp = int(found["nodes"]["node-a"]["sftp"].split(":")[1])
        with socket.create_connection(("127.0.0.1", node_sftp), timeout=10) as s:  # as the balancer, no header
            assert _closed_without_banner(s)
        with socket.create_connection(("127.0.0.1", node_sftp), timeout=10, source_address=("127.0.0.2", 0)) as s:
            # a client (not the balancer): served as it is, no header read
            assert s.recv(64).startswith(b"SSH-2.0-")
        _portal_login(tmp_path, found, source="127.0.0.2")  # the same over mutual TLS
        logins = json.loads(run_gateway("log", "--json", "--action", "auth.login", env=found["environment"]).stdout)
        assert sorted((e["channel"], e["source"], e["outcome"]) for e in logins) == [
            ("lgwan-asp", "127.0.0.2", "refused"), ("vpn-sftp", "127.0.0.2", "refused")]
        # The node's home works with the environment `up` printed.
        settings = json.loads(run_gateway("settings", "show", "--json", env=found["environment"]).stdout)
        assert settings["blobs"]["url"] == found["blobs_url"]
        assert make_url(settings["db"]["url"]) == make_url(found["db_url"])  # the same URL, normalised

        again = run_gateway("cluster", "up", "--dir", str(directory), check=False)
        assert again.returncode == 1 and "Traceback" not in again.stderr
        ja, en = again.stderr.strip().splitlines()[-2:]
        assert "cluster down" in ja and en.startswith("a cluster is already up")

        state = supervisor.read_state(directory) or {}
        running = supervisor.pids(state)
        assert len(running) >= 7, running  # etcd, 2 Patroni, 2 postmasters, weed, a node, haproxy
        # A part that died: `status` says which and exits 1; `down` still stops the rest.
        os.kill(state["haproxy"]["pid"], signal.SIGKILL)
        time.sleep(0.5)
        broken = run_gateway("cluster", "status", "--dir", str(directory), check=False)
        assert broken.returncode == 1 and "haproxy: stopped" in broken.stdout and "node-a: healthy" in broken.stdout
    finally:
        down = run_gateway("cluster", "down", "--dir", str(directory), check=False)
    assert down.returncode == 0, down.stderr
    assert _running_under(directory, pg_dir) == [] and not pg_dir.exists()
    assert all(not Path(f"/proc/{pid}").exists() or _zombie(pid) for pid in running)
    assert not (directory / "cluster.json").exists()
    # Idempotent; and `status` of nothing says so in both languages.
    assert run_gateway("cluster", "down", "--dir", str(directory)).returncode == 0
    gone = run_gateway("cluster", "status", "--dir", str(directory), check=False)
    assert gone.returncode == 1 and gone.stderr.strip().splitlines()[-1].startswith("no cluster is up")


def _sftp_login(tmp_path: Path, port: str, source: str) -> None:
    """A login with a key nobody registered, from `source`: refused."""
    key = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    batch = tmp_path / "batch"
    batch.write_text("ls /outbox\n")
    proc = subprocess.run(["sftp", "-b", str(batch), "-i", str(key), "-o", "StrictHostKeyChecking=no",
                           "-o", f"UserKnownHostsFile={tmp_path / 'known_hosts'}", "-o", "BatchMode=yes",
                           "-o", "IdentitiesOnly=yes", "-o", f"BindAddress={source}", "-P", port, "k.tanaka@127.0.0.1"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "denied" in proc.stderr.lower(), proc.stderr


def _portal_login(tmp_path: Path, found: dict, source: str) -> None:
    """A wrong password on a real terminal's certificate, from `source`, through HAProxy: refused."""
    import ssl

    import httpx

    env = found["environment"]
    run_gateway("approval", "add", "kurume-2020-teigaku", env=env)
    run_gateway("user", "add", "s.staff", "--org", "kurume", "--role", "staff", "--name", "職員 一郎", env=env)
    run_gateway("user", "issue-password", "s.staff", env=env)
    cert = json.loads(run_gateway("terminal", "issue", "s.staff", "-o", str(tmp_path / "certs"), "--json",
                                  env=env).stdout)
    ctx = ssl.create_default_context(cafile=str(Path(env["GATEWAY_HOME"]) / "keys" / "ca.crt"))
    ctx.load_cert_chain(cert["certificate"], cert["key"])
    with httpx.Client(base_url=found["portal"], verify=ctx, timeout=30,
                      transport=httpx.HTTPTransport(verify=ctx, local_address=source)) as c:
        answer = c.post("/api/v1/tokens", json={"login": "s.staff", "password": "not-the-password"})
    assert answer.status_code == 401, answer.text


def _closed_without_banner(s: socket.socket) -> bool:
    try:
        return s.recv(64) == b""
    except ConnectionResetError:
        return True


def _patroni_started(directory: Path) -> bool:
    try:
        state = json.loads((directory / "cluster.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(state.get("patroni", {}).get("members", [{}])[0].get("pid"))


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["ctrl-c", "sigterm", "sigkill"])
def test_an_interrupt_half_way_through_up_stops_what_was_started(tmp_path, sig):
    """Ctrl-C or SIGTERM: `up` itself stops what it started. SIGKILL: it cannot, and `down` finds
    every process in the state file, which records each as it starts."""
    directory = tmp_path / "cluster"
    up = subprocess.Popen([str(BIN / "gateway"), "cluster", "up", "--dir", str(directory), "--nodes", "1"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 120
        # Once the database's processes are starting, before the nodes are.
        while not _patroni_started(directory) and up.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert up.poll() is None, up.communicate()
        pg_dir = (directory / "pg").resolve()
        time.sleep(3)  # well into Patroni's bootstrap
        up.send_signal(sig)
        _, err = up.communicate(timeout=120)
        left_by_up = _running_under(directory, pg_dir)
        if sig == signal.SIGKILL:
            assert left_by_up != []
            assert run_gateway("cluster", "down", "--dir", str(directory)).returncode == 0
        else:
            assert up.returncode != 0 and "Traceback" not in err
            assert left_by_up == []
        assert _running_under(directory, pg_dir) == [] and not pg_dir.exists()
        assert not (directory / "cluster.json").exists()
    finally:
        if up.poll() is None:
            up.kill()
        run_gateway("cluster", "down", "--dir", str(directory), check=False)  # whatever the test found


def test_a_missing_program_is_told_before_anything_starts(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from gateway.cli import main
    from gateway.cluster import haproxy

    monkeypatch.setattr(haproxy, "HAPROXY", str(tmp_path / "no-haproxy"))  # as on a machine without it
    directory = tmp_path / "cluster"
    result = CliRunner().invoke(main, ["cluster", "up", "--dir", str(directory)])
    assert result.exit_code == 1, result.output  # told, not a traceback
    ja, en = result.output.strip().splitlines()[-2:]
    assert "make setup" in ja and "no-haproxy (haproxy)" in en and en.startswith("a program the cluster needs")
    assert _running_under(directory) == [] and not (directory / "cluster.json").exists()
