"""A gateway node killed mid-upload (issue 24, item 4): the client's connection breaks, it sends
again through HAProxy, which has taken the dead node out, and the other node completes the
hand-over: once, never twice; the log verifies."""
from __future__ import annotations

import json
import subprocess
import time

import httpx
import pytest

from tests.cluster.conftest import entries
from tests.conftest import city_policy, run_audit, run_gateway

pytestmark = pytest.mark.postgres
FIELDS = {"approval": "kurume-2020-teigaku", "recipient": "chikugo-print", "profile": "lgwan-asp",
          "password_delivery": "registered-mail"}


def _serving_the_upload(cluster) -> str:
    """The node holding the client's connection (HAProxy's health checks come and go: asked twice)."""
    def holders() -> set[str]:
        out = subprocess.run(["ss", "-Htn", "state", "established"], capture_output=True, text=True).stdout
        return {name for name, port in cluster.ports.items()
                if any(line.split()[2].endswith(f":{port}") for line in out.splitlines() if line.split())}
    first = holders()
    time.sleep(0.2)
    both = first & holders()
    assert len(both) == 1, both
    return both.pop()


def test_a_node_killed_mid_upload_the_retry_completes_once_on_the_other(cluster, kurume_file):
    staff = cluster.token("s.staff")
    cluster.close_clients()  # only the upload's connection stays open, so it shows where it went
    data = kurume_file.read_bytes()
    boundary = "gateway-test-boundary"
    head = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in FIELDS.items())
    head += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="recipients.csv"\r\n' \
            "Content-Type: text/csv\r\n\r\n"
    killed: list[str] = []

    def body():
        yield head.encode() + data[: len(data) // 2]
        time.sleep(0.5)  # the first half is at the node
        node = _serving_the_upload(cluster)
        cluster.kill_node(node)
        killed.append(node)
        time.sleep(0.5)
        yield data[len(data) // 2:] + f"\r\n--{boundary}--\r\n".encode()

    with pytest.raises(httpx.TransportError):
        cluster.client("s.staff").post("/api/v1/transfers", headers={
            **staff, "content-type": f"multipart/form-data; boundary={boundary}"}, content=body())
    assert len(killed) == 1
    survivor = next(n for n in cluster.ports if n != killed[0])
    time.sleep(1.0)  # HAProxy's checks take the dead node out (inter 300 ms, fall 2)
    # The client retries through HAProxy, with its session (in the database, so any node knows it).
    with kurume_file.open("rb") as f:
        again = cluster.client("s.staff").post("/api/v1/transfers", headers=staff, data=FIELDS,
                                               files={"file": ("recipients.csv", f, "text/csv")})
    assert again.status_code == 200, again.text
    log = entries(cluster.homes[survivor])
    sends = [e for e in log if e["action"] == "transfer.send"]
    assert [(e["outcome"], e["node"]) for e in sends] == [("ok", survivor)]  # once, never twice
    bundle = cluster.tmp / "bundle"
    run_gateway("export", "evidence", "--approval", "kurume-2020-teigaku", "-o", str(bundle),
                env={"GATEWAY_HOME": str(cluster.homes[survivor])})
    policy = city_policy(cluster.homes[survivor])
    assert run_audit("verify", str(bundle), trust=policy).returncode == 0
    report = json.loads(run_audit("report", str(bundle), "--json", trust=policy).stdout)
    assert report["verified"] is True
