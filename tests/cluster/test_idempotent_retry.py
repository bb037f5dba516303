"""A retried API upload with an Idempotency-Key (issue 24, gap c). test_node_failover.py kills a
node mid-upload, before anything is committed: the retry is then the only send. Here the node dies
after the send committed and before its answer left (the fault point `send:after-commit`): the
client, seeing its connection break, retries through HAProxy on the other node with the same key,
and no second transfer is made; the answer names the one the first attempt made."""
from __future__ import annotations

import uuid

import httpx
import pytest

from tests.cluster.conftest import entries

pytestmark = pytest.mark.postgres
FIELDS = {"approval": "kurume-2020-teigaku", "recipient": "chikugo-print", "profile": "lgwan-asp",
          "password_delivery": "registered-mail"}


def _post(client: httpx.Client, headers: dict[str, str], source) -> httpx.Response:
    with source.open("rb") as f:
        return client.post("/api/v1/transfers", headers=headers, data=FIELDS,
                           files={"file": ("recipients.csv", f, "text/csv")})


def test_a_retry_after_the_node_died_past_the_commit_makes_no_second_transfer(cluster, kurume_file):
    staff = cluster.token("s.staff")
    cluster.stop_node("node-a")
    cluster.start_node("node-a", env={"GATEWAY_FAULT_POINT": "send:after-commit"})
    key = {**staff, "idempotency-key": str(uuid.uuid4())}
    with pytest.raises(httpx.TransportError):  # node A committed the send, then died before answering
        _post(cluster.client("s.staff", cluster.ports["node-a"]), key, kurume_file)
    sends = [e for e in entries(cluster.homes["node-b"]) if e["action"] == "transfer.send"]
    assert [(e["outcome"], e["node"]) for e in sends] == [("ok", "node-a")]
    first = sends[0]["object"]["transfer"]

    again = _post(cluster.client("s.staff"), key, kurume_file)  # through HAProxy: node A is out
    assert again.status_code == 409, again.text
    assert again.json()["transfer"] == first and again.json()["category"] == "conflict"
    assert "passphrase" not in again.json()
    # A malformed key is refused before anything is sent; a new key is a new send.
    bad = _post(cluster.client("s.staff"), {**staff, "idempotency-key": "x"}, kurume_file)
    assert bad.status_code == 400 and bad.json()["en"].startswith("Idempotency-Key must be")
    fresh = _post(cluster.client("s.staff"), {**staff, "idempotency-key": str(uuid.uuid4())}, kurume_file)
    assert fresh.status_code == 200, fresh.text
    sends = [e for e in entries(cluster.homes["node-b"]) if e["action"] == "transfer.send"]
    assert [(e["outcome"], e["node"]) for e in sends] == [("ok", "node-a"), ("refused", "node-b"),
                                                          ("refused", "node-b"), ("ok", "node-b")]
    assert first in sends[1]["reason"] and "Idempotency-Key" in sends[2]["reason"]  # the log says which
