"""A resident file uploaded to the portal is never on disk in clear, not even while it arrives
(issue 19, defect 1): the upload is staged encrypted under a key held only in memory. The test
streams a real multipart body over TLS in two halves and, between them, scans every file under
the home for a marker it wrote into the file; then once more after the send."""
from __future__ import annotations

import csv
import secrets
import stat
import time
from pathlib import Path

from tests.conftest import run_gateway
from tests.helpers import files_holding
from tests.portal.conftest import PASSWORD, Portal

MARKER = "ZQX-PORTAL-MARKER-5512"



def marked_recipients(tmp_path: Path) -> bytes:
    path = tmp_path / "recipients.csv"
    run_gateway("generate", "recipients", "--count", "20000", "--schema", "kurume-2020", "--encoding", "utf-8",
                "--seed", "11", "-o", str(path))
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    rows[1][0] = MARKER
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\r\n").writerows(rows)
    return path.read_bytes()


def test_a_portal_upload_is_never_on_disk_in_clear(portal: Portal, tmp_path):
    data = marked_recipients(tmp_path)
    assert len(data) > 3 * 1024 * 1024
    boundary = secrets.token_hex(16)
    fields = {"approval": "kurume-2020-teigaku", "recipient": "chikugo-print", "profile": "lgwan-asp",
              "password_delivery": "registered-mail"}
    head = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                    for k, v in fields.items())
    head += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="recipients.csv"\r\n'
             "Content-Type: text/csv\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    half = len(data) // 2
    work = portal.home / "work"
    during: list[str] = []

    def body():
        yield head + data[:half]
        # The server has taken the first half into its staging file before the rest is sent.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            staged = [p for p in work.glob("*.upload") if p.stat().st_size >= 512 * 1024]  # past the first flush
            if staged:
                break
            time.sleep(0.05)
        assert staged, ("the upload never reached the work area", [(p.name, p.stat().st_size) for p in work.glob("*")])
        during.extend(files_holding(portal.home, MARKER.encode()))
        yield data[half:] + tail

    with portal.client("s.staff") as c:
        token = c.post("/api/v1/tokens", json={"login": "s.staff", "password": PASSWORD}).json()["token"]
        r = c.post("/api/v1/transfers", content=body(),
                   headers={"authorization": f"Bearer {token}",
                            "content-type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 200, r.text
    assert r.json()["records"] == 20000
    assert during == []
    assert files_holding(portal.home, MARKER.encode()) == []
    assert not list(work.glob("*.upload"))
    for db in portal.home.glob("gateway.db*"):  # the portal holds the database open: WAL and shm too
        assert stat.S_IMODE(db.stat().st_mode) == 0o600, db
