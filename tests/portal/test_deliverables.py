"""Contractors return deliverables under the approval of the transfer they received: the page form
and POST /api/v1/transfers/{id}/deliverables, against the real portal over real TLS."""
from __future__ import annotations

import io
import secrets
import socket
import time

from gateway.store.models_deliverables import Deliverable
from tests.helpers import files_holding
from tests.portal.conftest import MAX_UPLOAD, bearer, log_entries

CSV = "宛名番号,返戻理由\n000123,あて所に尋ねあたりません\n".encode("cp932")


def delivered(portal, tid: str) -> list[dict]:
    with bearer(portal, "k.tanaka") as (c, h):
        r = c.get(f"/api/v1/transfers/{tid}/deliverables", headers=h)
    assert r.status_code == 200, r.text
    return r.json()


def work_is_empty(portal) -> bool:
    work = portal.home / "work"
    for _ in range(100):
        if not any(p.suffix == ".upload" for p in work.iterdir()):
            return True
        time.sleep(0.05)
    return False


def blob_temporaries(portal) -> list:
    return list((portal.home / "blobs").glob("??/.*.tmp"))


def page_post(c, tid: str, token: str | None, name: str = "proof.pdf", body: bytes = CSV):
    data = {"csrf": token} if token is not None else {}
    return c.post(f"/contractor/transfers/{tid}/deliverables", data=data, files={"file": (name, body, "text/csv")})


def test_designated_handler_delivers_by_page_and_api(portal, kurume_transfer):
    tid = kurume_transfer["transfer"]
    before = len(delivered(portal, tid))
    c = portal.login("k.tanaka")
    token = portal.csrf(c, f"/contractor/transfers/{tid}")
    name = "{{7*7}}\r\nX-Injected: 1 <b>返戻.csv"
    r = page_post(c, tid, token, name.replace("\r", "%0D").replace("\n", "%0A"))
    assert r.status_code == 200, r.text
    assert "deliverable received" in r.text
    # The filename comes back literally (escaped once for HTML), is never evaluated, never a header.
    assert "{{7*7}}\r\nX-Injected: 1 &lt;b&gt;返戻.csv" in r.text and "x-injected" not in r.headers

    with bearer(portal, "k.tanaka") as (api, h):
        r = api.post(f"/api/v1/transfers/{tid}/deliverables", headers=h,
                     files={"file": ("../../etc/passwd", b"not a path\n", "text/plain")})
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["transfer"] == tid and got["name"] == "../../etc/passwd" and got["size"] == len(b"not a path\n")
    rows = delivered(portal, tid)
    assert len(rows) == before + 2
    assert {name, "../../etc/passwd"} <= {d["name"] for d in rows}
    assert all(d["uploaded_by"] == "k.tanaka" for d in rows)
    assert not (portal.home.parent / "etc").exists() and work_is_empty(portal)
    entries = [e for e in log_entries(portal, action="deliverable.upload", actor="k.tanaka", outcome="ok")
               if e["object"]["transfer"] == tid]
    assert len(entries) >= 2 and all(e["object"]["approval"] == "kurume-2020-teigaku" for e in entries)
    assert any(name in (e["reason"] or "") for e in log_entries(portal, action="portal.upload", actor="k.tanaka"))


def test_idor_another_organisations_transfer(portal, kurume_transfer):
    tid = kurume_transfer["transfer"]
    before = len(delivered(portal, tid))
    c = portal.login("t.kobayashi")  # Shinjuku's designated handler
    token = portal.csrf(c, "/contractor")
    r = page_post(c, tid, token)
    assert r.status_code == 404 and tid in r.text and "見つかりません" in r.text
    with bearer(portal, "t.kobayashi") as (api, h):
        assert api.post(f"/api/v1/transfers/{tid}/deliverables", headers=h,
                        files={"file": ("a.csv", CSV)}).status_code == 404
        assert api.get(f"/api/v1/transfers/{tid}/deliverables", headers=h).status_code == 404
        missing = api.post("/api/v1/transfers/T-does-not-exist/deliverables", headers=h, files={"file": ("a.csv", CSV)})
        assert missing.status_code == 404
    assert len(delivered(portal, tid)) == before and work_is_empty(portal)
    refused = log_entries(portal, action="deliverable.upload", actor="t.kobayashi", outcome="refused")
    # Logged, but another organisation's transfer is recorded like a missing one.
    assert len(refused) >= 3 and all(e["object"]["approval"] is None and not e["kinds"] for e in refused)


def test_non_designated_handler_is_refused_before_the_body(portal, kurume_transfer):
    tid = kurume_transfer["transfer"]
    before = len(delivered(portal, tid))
    c = portal.login("x.outsider")  # chikugo-print, the right organisation, not on the handler list
    token = portal.csrf(c, f"/contractor/transfers/{tid}")
    r = page_post(c, tid, token)
    assert r.status_code == 403 and "取扱者名簿" in r.text
    with bearer(portal, "x.outsider") as (api, h):
        r = api.post(f"/api/v1/transfers/{tid}/deliverables", headers=h, files={"file": ("a.csv", CSV)})
    assert r.status_code == 403 and r.json()["error"] == "non-designated-handler"
    assert len(delivered(portal, tid)) == before and work_is_empty(portal)
    refused = log_entries(portal, action="deliverable.upload", actor="x.outsider", outcome="refused")
    assert len(refused) >= 2 and all(e["kinds"] == ["non-designated-handler"] for e in refused)


def test_other_roles_cannot_deliver(portal, kurume_transfer):
    tid = kurume_transfer["transfer"]
    staff = portal.login("s.staff")
    assert page_post(staff, tid, portal.csrf(staff, "/staff")).status_code == 403
    with bearer(portal, "sec.officer") as (api, h):
        assert api.post(f"/api/v1/transfers/{tid}/deliverables", headers=h,
                        files={"file": ("a.csv", CSV)}).status_code == 403


def test_csrf_is_required(portal, kurume_transfer):
    tid = kurume_transfer["transfer"]
    before = len(delivered(portal, tid))
    c = portal.login("k.tanaka")
    assert page_post(c, tid, None).status_code == 403
    assert page_post(c, tid, "forged-token").status_code == 403
    # The page session on the API needs the X-CSRF-Token header; a bearer token does not.
    assert c.post(f"/api/v1/transfers/{tid}/deliverables", files={"file": ("a.csv", CSV)}).status_code == 403
    assert len(delivered(portal, tid)) == before and work_is_empty(portal)


def test_interrupted_upload_leaves_nothing(portal, kurume_transfer):
    tid = kurume_transfer["transfer"]
    before = len(delivered(portal, tid))
    c = portal.login("k.tanaka")
    token = portal.csrf(c, f"/contractor/transfers/{tid}")
    cookie = c.cookies.get("__Host-session")
    head = (f"--b\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n"
            f"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.pdf\"\r\n\r\n").encode()
    body = head + b"x" * 2_000_000
    with socket.create_connection(("127.0.0.1", portal.port)) as raw:
        with portal.context("k.tanaka").wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall((f"POST /contractor/transfers/{tid}/deliverables HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       f"Cookie: __Host-session={cookie}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                       f"Content-Length: {len(body) + 10_000_000}\r\n\r\n").encode() + body)
    assert work_is_empty(portal) and not any((portal.home / "work").iterdir())
    deadline = time.time() + 10
    while time.time() < deadline and blob_temporaries(portal):  # the disconnect reaches the server
        time.sleep(0.05)
    assert blob_temporaries(portal) == []  # the part of it that went into the blob store is gone too
    deadline = time.time() + 10
    while time.time() < deadline and not log_entries(portal, action="portal.upload", actor="k.tanaka",
                                                     outcome="failed"):
        time.sleep(0.2)
    assert log_entries(portal, action="portal.upload", actor="k.tanaka", outcome="failed")
    assert len(delivered(portal, tid)) == before


def test_oversized_upload_is_refused_before_it_is_read(portal, kurume_transfer):
    tid = kurume_transfer["transfer"]
    c = portal.login("k.tanaka")
    cookie = c.cookies.get("__Host-session")
    with socket.create_connection(("127.0.0.1", portal.port)) as raw:
        with portal.context("k.tanaka").wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall((f"POST /contractor/transfers/{tid}/deliverables HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       f"Cookie: __Host-session={cookie}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                       f"Content-Length: {MAX_UPLOAD * 2}\r\n\r\n").encode())
            answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")
    assert work_is_empty(portal)


def test_a_deliverable_streams_into_the_blob_store_never_in_clear(portal, kurume_transfer):
    """The body goes into the blob store as it arrives (encrypted under the blob's key): no
    staging file in the work area, nothing in clear on disk while it arrives or after, and the
    stored blob holds exactly what was sent."""
    tid = kurume_transfer["transfer"]
    marker = b"ZQX-DELIVERABLE-MARKER-7731"
    data = (marker + b"," + secrets.token_hex(40).encode() + b"\r\n") * 40_000  # about 4 MB
    boundary = secrets.token_hex(16)
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="proof.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    half = len(data) // 2
    during: list[str] = []

    def body():
        yield head + data[:half]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the first half is in the blob store's temporary
            staged = [p for p in blob_temporaries(portal) if p.stat().st_size >= 512 * 1024]
            if staged:
                break
            time.sleep(0.05)
        assert staged, "the deliverable never reached the blob store while it arrived"
        assert not any(p.suffix == ".upload" for p in (portal.home / "work").iterdir())
        during.extend(files_holding(portal.home, marker))
        yield data[half:] + tail

    with bearer(portal, "k.tanaka") as (c, h):
        r = c.post(f"/api/v1/transfers/{tid}/deliverables", content=body(),
                   headers={**h, "content-type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["size"] == len(data)
    assert during == [] and files_holding(portal.home, marker) == []
    assert blob_temporaries(portal) == []
    with portal.gw.read() as session:
        blob_id = session.get(Deliverable, got["deliverable"]).blob_id
        out = io.BytesIO()
        portal.gw.blobs().copy_to(session, blob_id, out)
    assert out.getvalue() == data
