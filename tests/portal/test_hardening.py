"""Defects an attacker found (issue 19), each acted out from outside: over TLS, as the people would."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.conftest import APPROVALS, run_gateway
from tests.portal.conftest import PASSWORD, Portal, bearer, cli, login_post, send_via_api


def test_wrong_passwords_typed_at_another_persons_terminal_do_not_lock_the_account(portal: Portal) -> None:
    """Defect 6: five wrong passwords for the officer, typed at a contractor's terminal, locked the
    real officer out. Now they count against that terminal (and the source), not the account."""
    with portal.client("x.outsider") as c:
        for i in range(6):
            assert login_post(c, "sec.officer", f"not-the-password-{i}").status_code == 401
        # The terminal is locked for other people's accounts now, even with the right password.
        assert login_post(c, "sec.officer", PASSWORD).status_code == 401
    portal.login("sec.officer")  # from the officer's own terminal: not locked
    entries = json.loads(cli("log", "--action", "auth.lockout", "--json"))
    assert any(e["actor"]["user"] == "sec.officer" and "terminal" in e["reason"] for e in entries), entries
    portal.clock.advance(timedelta(minutes=16))  # the terminal's lock ends for the tests after this one


def test_an_officer_sees_only_their_own_citys_entries_of_a_shared_contractor(
        portal: Portal, tmp_path_factory) -> None:
    """Defect 5: through a contractor serving two cities, each city's officer saw the other city's
    transfer ids, approvals, actors and record counts. chikugo-print serves Kurume; here Shinjuku
    approves it too, sends it a file and k.tanaka downloads it."""
    root = tmp_path_factory.mktemp("shared")
    text = (APPROVALS / "shinjuku-2020-teigaku.toml").read_text(encoding="utf-8")
    text = text.replace('id = "shinjuku-2020-teigaku"', 'id = "shinjuku-2020-shared"', 1)
    head, _, rest = text.partition("[[recipients]]")
    rest = rest.replace('id = "musashino-forms"', 'id = "chikugo-print"', 1).replace(
        'login = "t.kobayashi"', 'login = "k.tanaka"', 1).replace('login = "y.sato"', 'login = "m.mori"', 1).replace(
        'login = "k.yamaguchi"', 'login = "s.ogata"', 1)
    shared = root / "shinjuku-2020-shared.toml"
    shared.write_text(head + "[[recipients]]" + rest, encoding="utf-8")
    cli("approval", "add", str(shared))
    source = root / "shinjuku.csv"
    run_gateway("generate", "recipients", "--count", "40", "--schema", "shinjuku-2020", "--seed", "9", "-o", str(source))
    sent = send_via_api(portal, source, login="sj.staff", approval="shinjuku-2020-shared", recipient="chikugo-print")
    with bearer(portal, "k.tanaka") as (c, h):
        assert c.get(f"/api/v1/transfers/{sent['transfer']}/package", headers=h).status_code == 200

    def seen_by(officer: str) -> list[dict]:
        with bearer(portal, officer) as (c, h):
            r = c.get("/api/v1/log", headers=h, params={"limit": "5000"})
            assert r.status_code == 200
            return r.json()

    kurume = json.dumps(seen_by("sec.officer"), ensure_ascii=False)
    assert sent["transfer"] not in kurume and "shinjuku-2020-shared" not in kurume
    shinjuku = seen_by("sj.officer")
    assert any(e["object"]["transfer"] == sent["transfer"] and e["action"] == "transfer.download" for e in shinjuku)
    # The officer's page reads the same query.
    page = portal.login("sec.officer").get("/officer")
    assert page.status_code == 200 and sent["transfer"] not in page.text


def test_a_non_designated_employee_of_the_contractor_sees_no_transfer_metadata(portal: Portal,
                                                                               kurume_transfer: dict) -> None:
    """Defect 8: x.outsider works for chikugo-print but is on no approval's handler list: the list,
    the page and the API say nothing of the transfer (ids, record counts, checksums)."""
    tid = kurume_transfer["transfer"]
    c = portal.login("x.outsider")
    listing = c.get("/contractor")
    assert listing.status_code == 200 and tid not in listing.text
    assert c.get(f"/contractor/transfers/{tid}").status_code == 404
    with bearer(portal, "x.outsider") as (api, h):
        assert api.get("/api/v1/transfers", headers=h).json() == []
        assert api.get(f"/api/v1/transfers/{tid}", headers=h).status_code == 404
    with bearer(portal, "k.tanaka") as (api, h):  # the designated handler still sees it
        assert any(t["id"] == tid for t in api.get("/api/v1/transfers", headers=h).json())


def test_a_malformed_multipart_body_is_a_logged_400_not_a_500(portal: Portal) -> None:
    c = portal.login("s.staff")
    token = portal.csrf(c, "/staff")
    before = json.loads(cli("log", "--action", "portal.upload", "--outcome", "refused", "--json"))
    r = c.post("/staff/send", content=b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" + token.encode()
               + b"\r\n--XyZ\r\nbroken headers without end",
               headers={"content-type": "multipart/form-data; boundary=XyZ"})
    assert r.status_code == 400 and "multipart" in r.text
    after = json.loads(cli("log", "--action", "portal.upload", "--outcome", "refused", "--json"))
    assert len(after) == len(before) + 1


def test_the_language_link_never_leaves_the_site(portal: Portal) -> None:
    c = portal.login("s.staff")
    r = c.get(f"{portal.url}//evil.example/x")  # the whole URL: a bare "//..." would be a host to httpx
    assert r.request.url.raw_path.startswith(b"//evil.example")
    assert 'href="//evil.example' not in r.text and 'href="/?lang=' in r.text


def test_gateway_log_escapes_bidi_controls(portal: Portal) -> None:
    with bearer(portal, "s.staff") as (c, h):  # an id the person typed comes back in the refusal's reason
        assert c.get("/api/v1/transfers/T\u202eexe.csv", headers=h).status_code == 404
    out = run_gateway("log", "--action", "transfer.show", "--outcome", "refused").stdout
    assert "\u202e" not in out and "\\u202e" in out


def test_a_connection_flood_without_certificates_does_not_starve_a_real_terminal(portal: Portal, monkeypatch) -> None:
    """Defect 2: connections are capped per source and in all before the TLS handshake, a silent
    connection is cut at the handshake deadline, and a terminal that trickles header lines is cut
    at the header deadline, while a real terminal keeps working throughout."""
    import dataclasses
    import socket
    import ssl
    import time

    import gateway.channels.lgwan_asp.admission as admission
    import gateway.channels.lgwan_asp.server as server_module
    from gateway.channels.lgwan_asp.server import PortalServer

    monkeypatch.setattr(admission, "HANDSHAKE_SECONDS", 2.0)
    monkeypatch.setattr(server_module, "HEADER_SECONDS", 2.0)
    settings = dataclasses.replace(portal.gw.settings.portal, max_connections_per_source=20, max_connections=100,
                                   max_upload_bytes=1024 * 1024)
    server = PortalServer(portal.gw, settings=settings).start()
    flood: list[socket.socket] = []
    try:
        for _ in range(200):  # from another loopback address than the real terminal's
            s = socket.socket()
            s.bind(("127.0.0.2", 0))
            s.settimeout(5)
            s.connect(("127.0.0.1", server.port))
            flood.append(s)
        time.sleep(0.5)
        cut = 0
        for s in flood:
            s.settimeout(0.05)
            try:
                cut += s.recv(1) == b""
            except ConnectionResetError:
                cut += 1
            except TimeoutError:
                pass  # admitted: still open
        assert cut >= 175, cut  # all but the per-source allowance were closed before any handshake
        # The real terminal, from 127.0.0.1, is served meanwhile.
        with dataclasses.replace(portal, url=f"https://127.0.0.1:{server.port}", port=server.port,
                                 opened=[]).client("s.staff") as c:
            started = time.monotonic()
            assert c.get("/login").status_code == 200
            assert time.monotonic() - started < 5
        # The admitted, silent ones are cut at the handshake deadline.
        time.sleep(4)
        silent_cut = 0
        for s in flood:
            s.settimeout(0.05)
            try:
                silent_cut += s.recv(1) == b""
            except (TimeoutError, ConnectionResetError, OSError):
                silent_cut += 1
        assert silent_cut == len(flood)
        # A terminal with its certificate that trickles header lines is cut at the header deadline.
        ctx = portal.context("s.staff")
        with socket.create_connection(("127.0.0.1", server.port)) as raw, \
                ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            started = time.monotonic()
            with pytest.raises((ConnectionError, ssl.SSLError, OSError)):
                for n in range(30):
                    time.sleep(0.5)
                    tls.sendall(f"X-Trickle-{n}: 1\r\n".encode())
                    tls.settimeout(0.01)
                    try:
                        if tls.recv(1) == b"":
                            raise ConnectionError("closed")
                    except (TimeoutError, ssl.SSLWantReadError):
                        pass
            assert time.monotonic() - started < 6
    finally:
        for s in flood:
            s.close()
        server.stop()
    entries = json.loads(cli("log", "--action", "portal.connect", "--json"))
    assert any(e["source"] == "127.0.0.2" and e["outcome"] == "refused" for e in entries)
