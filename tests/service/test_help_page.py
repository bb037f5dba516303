"""The page a browser without a terminal certificate reaches (issue 22, item 2): served on a port
of its own, in Japanese first, naming whom to ask; the portal still refuses that browser."""
from __future__ import annotations

import hashlib
import ssl
import urllib.request

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

CONTACT = "総務部情報政策課（内線 2345）"


def browser(home) -> ssl.SSLContext:
    """A TLS client that trusts the gateway's CA and holds no terminal certificate."""
    return ssl.create_default_context(cafile=str(home / "keys" / "ca.crt"))


def test_the_help_page_explains_in_japanese_and_the_portal_still_wants_a_certificate(serving, today_home):
    service = serving("--portal-port", "0", "--help-port", "0", env={"GATEWAY_PORTAL_HELP_CONTACT": CONTACT},
                      home=today_home)
    context = browser(today_home)
    with urllib.request.urlopen(f"https://localhost:{service.ports['help']}/anything", context=context, timeout=10) as r:
        assert r.status == 200 and r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "default-src 'none'" in r.headers["Content-Security-Policy"]
        page = r.read().decode("utf-8")
    assert page.index("端末証明書") < page.index("terminal")  # Japanese first
    assert CONTACT in page
    assert f"https://localhost:{service.ports['portal']}/" in page
    ca = (today_home / "keys" / "ca.crt").read_bytes()
    der = x509.load_pem_x509_certificate(ca).public_bytes(serialization.Encoding.DER)
    assert hashlib.sha256(der).hexdigest().upper()[:8] in page.replace(":", "")
    with urllib.request.urlopen(f"https://localhost:{service.ports['help']}/ca.crt", context=context, timeout=10) as r:
        assert r.read() == ca
    # The same browser at the portal: refused in the handshake, before any HTTP.
    with pytest.raises((ssl.SSLError, ConnectionResetError, urllib.error.URLError)):
        urllib.request.urlopen(f"https://localhost:{service.ports['portal']}/", context=context, timeout=10).read()
    code, _, rest = service.stop()
    assert code == 0, rest
