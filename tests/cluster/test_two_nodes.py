"""Several nodes, one gateway (issue 24, items 1 and 2): two `gateway serve` nodes on one
PostgreSQL and one object store behind HAProxy in TCP mode. Any node serves any request, a session
opened on one node is valid on the other, the nodes' appends form one chain, and the auditor
verifies it as it verifies a single node's log. One node sweeps at a time, and another takes over when
it dies."""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from tests.cluster.conftest import PASSWORD, entries
from tests.conftest import city_policy, run_audit, run_gateway

pytestmark = pytest.mark.postgres


def test_two_nodes_serve_one_gateway_with_one_log_and_one_sweeper(cluster, kurume_file):
    # A session opened on node A is valid on node B (sessions live in the shared database).
    staff = cluster.token("s.staff", cluster.ports["node-a"])
    me = cluster.client("s.staff", cluster.ports["node-b"]).get("/api/v1/me", headers=staff)
    assert me.status_code == 200 and me.json()["login"] == "s.staff"
    # Through HAProxy: the TLS with the terminal's certificate ends at a node, which knows the terminal.
    def send() -> str:
        with kurume_file.open("rb") as f:
            sent = cluster.client("s.staff").post(
                "/api/v1/transfers", headers=staff, files={"file": ("recipients.csv", f, "text/csv")},
                data={"approval": "kurume-2020-teigaku", "recipient": "chikugo-print", "profile": "lgwan-asp",
                      "password_delivery": "registered-mail"})
        assert sent.status_code == 200, sent.text
        return sent.json()["transfer"]

    transfers = [send(), send()]
    for _ in range(4):  # each a new connection: round robin over the nodes
        handler = cluster.token("k.tanaka")
    # The packages the sends stored (in the shared object store) are handed out by either node.
    for node, transfer in zip(("node-a", "node-b"), transfers, strict=True):
        package = cluster.client("k.tanaka", cluster.ports[node]).get(f"/api/v1/transfers/{transfer}/package",
                                                                       headers=handler)
        assert package.status_code == 200 and package.content.startswith(b"age-encryption.org/v1")
    # A package allows one complete download, counted in the shared database: the other node
    # refuses a second one (a copy) as the first would.
    again = cluster.client("k.tanaka", cluster.ports["node-b"]).get(f"/api/v1/transfers/{transfers[0]}/package",
                                                                     headers=handler)
    assert again.status_code == 422, again.text
    # Logins at once from one source (every client comes through HAProxy's address), some wrong:
    # each counts against the same throttle rows on both nodes, and none fails for it.
    def attempt(i: int) -> int:
        login = ("s.staff", "k.tanaka")[i % 2]
        with cluster.client(login) as c:
            return c.post("/api/v1/tokens", json={"login": login,
                                                  "password": PASSWORD if i % 3 else "wrong-password"}).status_code
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(attempt, range(12)))
    assert sorted(set(answers)) == [200, 401], answers
    log = entries(cluster.homes["node-a"])
    logins = [e.get("node") for e in log if e["action"] == "auth.login"]
    assert set(logins) == {"node-a", "node-b"}, logins  # HAProxy spread the requests
    downloads = [e["node"] for e in log if e["action"] == "transfer.download" and e["outcome"] == "ok"]
    assert sorted(downloads) == ["node-a", "node-b"]
    assert [(e["node"], e["kinds"]) for e in log if e["action"] == "transfer.download" and e["outcome"] == "refused"] \
        == [("node-b", ["download-over-limit"])]
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    # One chain in one order; the auditor verifies it as any log (the node is only a member more).
    bundle = cluster.tmp / "bundle"
    run_gateway("export", "evidence", "--approval", "kurume-2020-teigaku", "-o", str(bundle))
    policy = city_policy(cluster.homes["node-a"])
    verified = run_audit("verify", str(bundle), trust=policy)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(run_audit("report", str(bundle), "--json", trust=policy).stdout)
    assert report["verified"] is True
    # The one violation is the copy node B refused: prevented, and the auditor says so.
    assert [(f["kind"], f["prevented"], f["transfer"]) for f in report["findings"] if f["severity"] == "violation"] \
        == [("download-over-limit", True, transfers[0])], report["findings"]

    # One node sweeps at a time (both run a retention round every second); when it dies, another takes over.
    led = [e for e in cluster.kill_node("node-a") if e["msg"] == "took the lead"]
    killed_at = datetime.now(UTC)
    assert [e["round"] for e in led] == ["retention"]  # node-a started first and led
    time.sleep(3)
    taken = [e for e in cluster.stop_node("node-b") if e["msg"] == "took the lead"]
    assert [e["round"] for e in taken] == ["retention"]  # exactly once, and only after node-a died
    assert datetime.fromisoformat(taken[0]["ts"]) > killed_at
