"""Attacks and bad input against the real portal over real TLS."""
from __future__ import annotations

import json
import socket
import ssl
from datetime import timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.channels.lgwan_asp import terminals
from gateway.clock import real_now
from gateway.ledger.log import Actor
from tests.conftest import run_gateway
from tests.portal.conftest import MAX_UPLOAD, PASSWORD, csrf_of, login_post

ADMIN = Actor(user="cli:test", role="admin")


def handshake(portal, ctx: ssl.SSLContext) -> None:
    """Open a TLS connection and make the server speak (TLS 1.3 reports a refused client
    certificate only after the handshake, on the first read)."""
    with socket.create_connection(("127.0.0.1", portal.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = s.recv(100)
            if not data:
                raise ssl.SSLError("connection closed by the server")


def with_cert(portal, cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(portal.ca))
    ctx.load_cert_chain(cert, key)
    return ctx


# -- designated terminals: the handshake ----------------------------------------------------------

def test_a_valid_terminal_completes_the_handshake(portal):
    handshake(portal, portal.context("s.staff"))


def test_no_client_certificate_fails_the_handshake(portal):
    with pytest.raises((ssl.SSLError, ConnectionError)):
        handshake(portal, portal.context(None))


def test_foreign_ca_certificate_fails_the_handshake(portal, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "s.staff")])
    now = real_now()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30)).sign(key, hashes.SHA256()))
    (tmp_path / "f.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "f.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        handshake(portal, with_cert(portal, str(tmp_path / "f.crt"), str(tmp_path / "f.key")))


def test_expired_certificate_fails_the_handshake(portal, tmp_path):
    t = terminals.issue(portal.gw, "x.outsider", tmp_path, actor=ADMIN,
                        now=real_now() - timedelta(days=10), days=2)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        handshake(portal, with_cert(portal, str(t.cert), str(t.key)))


def test_revoked_certificate_fails_the_handshake_and_open_sessions_end(portal, tmp_path):
    t = terminals.issue(portal.gw, "sj.staff", tmp_path, actor=ADMIN)
    ctx = with_cert(portal, str(t.cert), str(t.key))
    handshake(portal, ctx)
    with httpx.Client(base_url=portal.url, verify=ctx) as c:
        assert login_post(c, "sj.staff", PASSWORD).status_code == 303
        assert c.get("/staff").status_code == 200
        run_gateway("terminal", "revoke", t.serial)
        # The connection opened before the revocation is refused per request, new ones in the handshake.
        assert c.get("/staff").status_code == 403
    with pytest.raises((ssl.SSLError, ConnectionError)):
        handshake(portal, ctx)
    handshake(portal, portal.context("sj.staff"))  # the user's other terminal still works


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_1_1_is_refused(portal):
    ctx = portal.context("s.staff")
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1_1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, ConnectionError)):
        handshake(portal, ctx)


# -- login -----------------------------------------------------------------------------------------

def test_same_answer_for_unknown_users_and_wrong_passwords_then_lockout(portal):
    with portal.client("x.outsider") as c:
        unknown = login_post(c, "no.such.user", "whatever-password")
        wrong = login_post(c, "x.outsider", "wrong-password-1")
        assert unknown.status_code == wrong.status_code == 401
        strip = lambda r: r.text.replace(csrf_of(r.text), "")  # noqa: E731
        assert strip(unknown) == strip(wrong)
        for i in range(4):
            login_post(c, "x.outsider", f"wrong-password-{i + 2}")
        locked = login_post(c, "x.outsider", PASSWORD)  # right password, but locked now
        assert locked.status_code == 401 and strip(locked) == strip(wrong)
    entries = json.loads(run_gateway("log", "--action", "auth.lockout", "--json").stdout)
    assert any(e["kinds"] == ["brute-force"] and e["actor"]["user"] == "x.outsider" for e in entries)
    portal.clock.advance(timedelta(minutes=16))  # the lock ends
    portal.login("x.outsider")


def test_a_terminal_logs_in_only_its_own_account(portal):
    with portal.client("sj.officer") as c:
        assert login_post(c, "s.staff", PASSWORD).status_code == 401


def test_session_cookie_flags(portal):
    with portal.client("s.staff") as c:
        r = login_post(c, "s.staff", PASSWORD)
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("__Host-session=")
        for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
            assert flag.lower() in cookie.lower()
        assert "domain" not in cookie.lower()


def test_idle_timeout(portal):
    c = portal.login("s.staff")
    assert c.get("/staff").status_code == 200
    portal.clock.advance(timedelta(minutes=16))
    assert c.get("/staff").status_code == 303


def test_missing_csrf_is_refused(portal):
    c = portal.login("s.staff")
    assert c.post("/staff/transfers/T-x/dispatch", data={"method": "hand"}).status_code == 403
    assert c.post("/logout", data={}).status_code == 403
    r = c.post("/staff/send", data={"approval": "kurume-2020-teigaku"}, files={"file": ("a.csv", b"x\n")})
    assert r.status_code == 403
    assert c.get("/staff").status_code == 200  # still logged in: the forged logout did nothing


def test_security_headers(portal):
    with portal.client("s.staff") as c:
        for path in ("/login", "/staff", "/nonexistent", "/api/v1/me"):
            h = c.get(path).headers
            assert "script-src 'self'" in h["content-security-policy"]
            assert "frame-ancestors 'none'" in h["content-security-policy"]
            assert "unsafe-inline" not in h["content-security-policy"]
            assert h["strict-transport-security"].startswith("max-age=")
            assert h["x-content-type-options"] == "nosniff"
            assert h["referrer-policy"] == "no-referrer"


# -- IDOR: another organisation's ids --------------------------------------------------------------

def test_idor_contractor_routes(portal, kurume_transfer):
    tid = kurume_transfer["transfer"]
    c = portal.login("t.kobayashi")  # Shinjuku's contractor
    token = portal.csrf(c, "/contractor")
    assert c.get(f"/contractor/transfers/{tid}").status_code == 404
    assert c.get(f"/contractor/transfers/{tid}/package").status_code == 404
    assert c.post(f"/contractor/transfers/{tid}/receipt",
                  data={"csrf": token, "records": "3000", "sha256": kurume_transfer["sha256"]}).status_code == 404
    assert c.post(f"/contractor/transfers/{tid}/deletions",
                  data={"csrf": token, "items": "a", "media": "b", "quantity": "1", "method": "c",
                        "planned_date": "2020-09-01"}).status_code == 404
    assert tid not in c.get("/contractor").text


def test_idor_non_designated_handler_of_the_right_organisation(portal, kurume_transfer):
    tid = kurume_transfer["transfer"]
    c = portal.login("x.outsider")
    assert c.get(f"/contractor/transfers/{tid}/package").status_code == 403
    entries = json.loads(run_gateway("log", "--actor", "x.outsider", "--outcome", "refused", "--json").stdout)
    assert any("non-designated-handler" in e["kinds"] for e in entries)


def test_idor_staff_routes(portal, kurume_transfer, recipients_file):
    tid = kurume_transfer["transfer"]
    c = portal.login("sj.staff")
    token = portal.csrf(c, "/staff")
    assert c.get(f"/staff/transfers/{tid}").status_code == 404
    assert c.post(f"/staff/transfers/{tid}/dispatch", data={"csrf": token, "method": "hand"}).status_code == 404
    with recipients_file.open("rb") as f:
        r = c.post("/staff/send", data={"csrf": token, "approval": "kurume-2020-teigaku", "recipient": "chikugo-print",
                                        "profile": "lgwan-asp", "password_delivery": "hand"},
                   files={"file": ("r.csv", f, "text/csv")})
    assert r.status_code == 404 and "見つかりません" in r.text  # not_found: another city's approval
    assert tid not in c.get("/staff").text


def test_idor_officer_and_api_routes(portal, kurume_transfer):
    tid = kurume_transfer["transfer"]
    c = portal.login("sj.officer")
    # Shinjuku's officer sees its own contractor's refused probes, never Kurume's hand-over itself.
    with portal.client("sj.officer") as api:
        tok = api.post("/api/v1/tokens", json={"login": "sj.officer", "password": PASSWORD}).json()["token"]
        seen = api.get("/api/v1/log", headers={"authorization": f"Bearer {tok}"}).json()
    assert seen and not any(e["object"]["transfer"] == tid or e["object"]["approval"] == "kurume-2020-teigaku"
                            for e in seen)
    assert tid not in c.get("/officer/approvals").text
    assert c.get("/officer/report?approval=kurume-2020-teigaku").status_code == 404
    with portal.client("t.kobayashi") as api:
        token = api.post("/api/v1/tokens", json={"login": "t.kobayashi", "password": PASSWORD}).json()["token"]
        h = {"authorization": f"Bearer {token}"}
        assert api.get(f"/api/v1/transfers/{tid}", headers=h).status_code == 404
        assert api.get(f"/api/v1/transfers/{tid}/package", headers=h).status_code == 404
        assert api.post(f"/api/v1/transfers/{tid}/receipt", headers=h,
                        json={"records": 1, "sha256": "0" * 64}).status_code == 404
        assert all(t["id"] != tid for t in api.get("/api/v1/transfers", headers=h).json())
    # A bearer token works only from the terminal it was issued on.
    with portal.client("s.staff") as other:
        assert other.get("/api/v1/me", headers=h).status_code == 401


def test_roles_cannot_use_each_others_pages(portal, kurume_transfer):
    tid = kurume_transfer["transfer"]
    staff = portal.login("s.staff")
    assert staff.get(f"/contractor/transfers/{tid}/package").status_code == 403
    assert staff.get("/officer").status_code == 403
    contractor = portal.login("k.tanaka")
    assert contractor.get("/staff").status_code == 403


# -- path variants -------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/staff", "/staff/", "//staff", "/STAFF", "/Staff", "/staff/..;/officer", "/login/..;/staff",
    "/login/%2e%2e/staff", "/static/%2e%2e/staff", "/static/../officer", "/api/v1/../../staff", "/api/v1/me/",
    "/API/V1/ME", "/api/v1//transfers", "/officer%2f", "/contractor;jsessionid=x", "/static/portal.css/../../staff",
])
def test_path_variants_never_reach_a_protected_route_unauthenticated(portal, path):
    with portal.client("s.staff") as c:
        r = c.get(path)
        assert r.status_code in (303, 401, 404), (path, r.status_code)
        if r.status_code == 303:
            assert r.headers["location"] == "/login"
        assert "送信専用画面" not in r.text and "アクセスログ" not in r.text


# -- uploads --------------------------------------------------------------------------------------

def test_template_and_crlf_filenames_come_back_literally(portal, recipients_file):
    c = portal.login("s.staff")
    token = portal.csrf(c, "/staff")
    name = "{{7*7}}\r\nX-Injected: 1 <b>.csv"
    with recipients_file.open("rb") as f:
        r = c.post("/staff/send", data={"csrf": token, "approval": "kurume-2020-teigaku", "recipient": "chikugo-print",
                                        "profile": "lgwan-asp", "password_delivery": "vpn-sftp"},
                   files={"file": (name.replace("\r", "%0D").replace("\n", "%0A"), f, "text/csv")})
    assert r.status_code == 422 and "password-same-channel" in r.text  # refused, with its reason shown
    assert "{{7*7}}\r\nX-Injected: 1 &lt;b&gt;.csv" in r.text and "x-injected" not in r.headers
    entries = json.loads(run_gateway("log", "--action", "portal.upload", "--json").stdout)
    assert any(name in (e["reason"] or "") for e in entries)


def test_interrupted_upload_leaves_nothing(portal):
    c = portal.login("s.staff")
    token = portal.csrf(c, "/staff")
    cookie = c.cookies.get("__Host-session")
    boundary = "XyZ"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n"
            f"Content-Type: text/csv\r\n\r\n").encode()
    body = head + b"x" * 2_000_000
    with socket.create_connection(("127.0.0.1", portal.port)) as raw:
        with portal.context("s.staff").wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall((f"POST /staff/send HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: __Host-session={cookie}\r\n"
                       f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                       f"Content-Length: {len(body) + 10_000_000}\r\n\r\n").encode() + body)
    work = portal.home / "work"
    import time
    # On a loaded machine the server may not have begun the upload when the client is gone, so the
    # work area must stay empty over a second, not merely be empty once.
    deadline, empty_since = time.monotonic() + 30, None
    while time.monotonic() < deadline:
        left = list(work.iterdir()) if work.exists() else []
        empty_since = (empty_since or time.monotonic()) if not left else None
        if empty_since is not None and time.monotonic() - empty_since > 1:
            break
        time.sleep(0.05)
    assert not work.exists() or not any(work.iterdir()), list(work.iterdir())


def test_oversized_upload_is_refused_before_it_is_read(portal):
    c = portal.login("s.staff")
    token = portal.csrf(c, "/staff")
    cookie = c.cookies.get("__Host-session")
    with socket.create_connection(("127.0.0.1", portal.port)) as raw:
        with portal.context("s.staff").wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall((f"POST /staff/send HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: __Host-session={cookie}\r\n"
                       f"X-CSRF-Token: {token}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                       f"Content-Length: {10**12}\r\n\r\n").encode())
            answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")


def test_oversized_chunked_upload_is_cut_off(portal):
    c = portal.login("s.staff")
    token = portal.csrf(c, "/staff")

    def body():
        yield (f"--b\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n"
               f"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n\r\n").encode()
        for _ in range(MAX_UPLOAD // (1 << 20) + 5):
            yield b"y" * (1 << 20)
    try:
        r = c.post("/staff/send", content=body(), headers={"content-type": "multipart/form-data; boundary=b"})
        assert r.status_code == 413
    except httpx.HTTPError:
        pass  # the server may close the connection while we are still sending
    assert not any((portal.home / "work").iterdir())
