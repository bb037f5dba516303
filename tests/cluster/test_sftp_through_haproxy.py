"""SFTP through HAProxy (issue 24, gap a): SSH passes the balancer untouched and ends at a node,
which all have the same host key; the contractor's downloads from /outbox and uploads to /inbox,
each on a new connection, are served by both nodes, and every one is in the one log. The package
allows one complete download (issue 20), counted in the shared database: the first download gets
it, the later ones are refused (download-over-limit) by whichever node they reach."""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.cluster.conftest import entries
from tests.conftest import run_gateway
from tests.sftp.conftest import keypair

pytestmark = pytest.mark.postgres


def test_downloads_and_uploads_through_haproxy_reach_both_nodes(cluster, kurume_file, tmp_path):
    key = keypair(tmp_path, "tanaka")
    run_gateway("user", "add-key", "k.tanaka", f"{key}.pub")
    sent = json.loads(run_gateway("send", str(kurume_file), "--approval", "kurume-2020-teigaku", "--recipient",
                                  "chikugo-print", "--profile", "vpn-sftp", "--password-delivery", "registered-mail",
                                  "--as", "s.staff", "--paper-ref", "書面 1", "--json").stdout)
    transfer = sent["transfer"]
    host_key = " ".join((cluster.homes["node-b"] / "keys" / "ssh_host_ed25519_key.pub").read_text().split()[:2])
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{cluster.proxy.sftp_port} {host_key}\n")
    (tmp_path / "returned.csv").write_text("番号,理由\n1,宛所不明\n", encoding="utf-8")
    for i in range(4):  # a new connection each time: HAProxy's round robin alternates the nodes
        batch = tmp_path / "batch"
        batch.write_text(f"-get /outbox/{transfer}.age got-{i}.age\nput returned.csv /inbox/{transfer}.returned-{i}.csv\n")
        proc = subprocess.run(
            ["sftp", "-b", str(batch), "-i", str(key), "-o", f"UserKnownHostsFile={known}",
             "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
             "-P", str(cluster.proxy.sftp_port), "k.tanaka@127.0.0.1"],
            capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "got-0.age").read_bytes().startswith(b"age-encryption.org/v1")
    assert not any((tmp_path / f"got-{i}.age").exists() for i in range(1, 4))  # copies: refused
    log = entries(cluster.homes["node-a"])
    downloads = [e for e in log if e["action"] == "transfer.download" and e["channel"] == "vpn-sftp"]
    uploads = [e for e in log if e["action"] == "deliverable.upload"]
    assert sorted(e["node"] for e in downloads) == ["node-a", "node-a", "node-b", "node-b"]
    assert [(e["outcome"], e["kinds"]) for e in downloads] == [("ok", [])] + [("refused", ["download-over-limit"])] * 3
    assert sorted(e["node"] for e in uploads) == ["node-a", "node-a", "node-b", "node-b"]
    assert all(e["outcome"] != "refused" for e in uploads), uploads
