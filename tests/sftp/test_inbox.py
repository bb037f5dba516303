"""/inbox over the stock OpenSSH client: who may deliver is decided when the file is opened, not
after the bytes are on disk; the upload cap and free disk are enforced as the bytes arrive; every
refusal is one log entry, and the client is told (issue 19, defect 3)."""
from __future__ import annotations

import os

from gateway.channels.vpn_sftp.server import Limits, SftpServer
from gateway.home import Home
from gateway.service import Gateway
from tests.conftest import run_gateway
from tests.sftp.conftest import keypair, log


def test_an_undesignated_user_is_refused_at_open_and_nothing_reaches_the_disk(sftp, tmp_path):
    run_gateway("user", "add", "z.undesignated", "--org", "chikugo-print", "--role", "contractor", "--name", "無指定",
                check=False)  # the module's installation is shared: added once
    key = keypair(tmp_path, "undesignated")
    run_gateway("user", "add-key", "z.undesignated", f"{key}.pub")
    (tmp_path / "big.bin").write_bytes(os.urandom(8 * 1024 * 1024))
    before = len(log(sftp.home, action="deliverable.upload"))
    for target in (f"{sftp.transfer}.big.bin", "T20200601-0000000000.big.bin"):
        proc = sftp.run(f"put big.bin /inbox/{target}\n", user="z.undesignated", key=key)
        assert proc.returncode != 0  # refused at open, and the client says so
        assert "denied" in proc.stderr.lower() or "no such file" in proc.stderr.lower(), proc.stderr
    entries = log(sftp.home, action="deliverable.upload")[before:]
    assert [e["outcome"] for e in entries] == ["refused", "refused"]
    assert entries[0]["kinds"] == ["non-designated-handler"] and entries[1]["object"]["transfer"] is None
    assert not any((sftp.home / "work").glob("*.upload"))


def test_an_upload_past_the_cap_is_refused_while_it_arrives(installation, tmp_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_HOME", str(installation.home))
    monkeypatch.setenv("GATEWAY_PORTAL_MAX_UPLOAD_BYTES", str(1024 * 1024))  # the cap the portal has too
    gw = Gateway.open(Home(installation.home))
    server = SftpServer(gw, "127.0.0.1", 0, Limits()).start()
    try:
        known = tmp_path / "known_hosts"
        host_key = " ".join((installation.home / "keys" / "ssh_host_ed25519_key.pub").read_text().split()[:2])
        known.write_text(f"[127.0.0.1]:{server.port} {host_key}\n")
        (tmp_path / "big.bin").write_bytes(os.urandom(4 * 1024 * 1024))
        batch = tmp_path / "batch"
        batch.write_text(f"put big.bin /inbox/{installation.transfer}.big.bin\n")
        import subprocess

        before = len(log(installation.home, action="deliverable.upload"))
        proc = subprocess.run(["sftp", "-b", str(batch), "-i", str(installation.key), "-o",
                               f"UserKnownHostsFile={known}", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
                               "-P", str(server.port), "k.tanaka@127.0.0.1"],
                              capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert proc.returncode != 0, proc.stdout
        entries = log(installation.home, action="deliverable.upload")[before:]
        assert [e["outcome"] for e in entries] == ["refused"] and "too large" in entries[0]["reason"]
        assert not any((installation.home / "work").glob("*.upload"))
    finally:
        server.stop()
        gw.engine.dispose()
