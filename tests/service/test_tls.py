"""The portal's certificate for a real host name (issue 22, item 2): `gateway init --hostname`
issues it from the gateway's CA, `gateway tls import` takes the city's with its chain; a real TLS
client checks the name and the chain against the running service."""
from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.conftest import BIN
from tests.test_operator_mistakes import assert_told


def gateway(home, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("GATEWAY_FAKE_NOW", "GATEWAY_DB_URL", "GATEWAY_HOME")}
    proc = subprocess.run([str(BIN / "gateway"), "--home", str(home), *args], env=env, capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def handshake(port: int, name: str, cafile) -> list[str]:
    """A real TLS client's handshake as a browser makes it: the name checked, the chain built to
    `cafile`. Returns the names the server's certificate carries."""
    context = ssl.create_default_context(cafile=str(cafile))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=name) as tls:
        return [v for _, v in tls.getpeercert()["subjectAltName"]]


def test_init_hostname_puts_the_real_name_in_the_certificate(serving, today_home):
    shown = json.loads(gateway(today_home, "tls", "show", "--json").stdout)
    assert shown["names"] == ["localhost", "127.0.0.1"] and shown["issued_here"]
    out = json.loads(gateway(today_home, "init", "--hostname", "gw.kurume.lg.jp", "--hostname", "10.20.30.40",
                             "--json").stdout)
    assert out["keys_created"] == ["server-certificate"]
    assert out["server_names"] == ["localhost", "gw.kurume.lg.jp", "127.0.0.1", "10.20.30.40"]
    assert (today_home / "keys" / "server.crt.previous").exists()
    assert (today_home / "keys" / "server.key").stat().st_mode & 0o077 == 0
    again = json.loads(gateway(today_home, "init", "--hostname", "gw.kurume.lg.jp", "--json").stdout)
    assert again["keys_created"] == []  # named already: kept as it is
    service = serving("--portal-port", "0", "--help-port", "0", home=today_home)
    ca = today_home / "keys" / "ca.crt"
    assert "gw.kurume.lg.jp" in handshake(service.ports["help"], "gw.kurume.lg.jp", ca)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(service.ports["help"], "gw.chikugo.lg.jp", ca)
    proc = gateway(today_home, "init", "--hostname", "bad name!", check=False)
    assert_told(proc, "bad name!")


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "久留米市"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, issuer: str, key, issuer_key, *, ca: bool, names=(), days=(-1, 90)):
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now + timedelta(days=days[0])).not_valid_after(now + timedelta(days=days[1]))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    else:
        builder = builder.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                                        critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(*certs) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


@pytest.fixture
def city_pki(tmp_path):
    """The city's own PKI as its data centre runs it: a root, an intermediate, a server certificate."""
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(4)]
    root = _cert("久留米市 ルート CA", "久留米市 ルート CA", keys[0], keys[0], ca=True)
    inter = _cert("久留米市 サーバー CA", "久留米市 ルート CA", keys[1], keys[0], ca=True)
    leaf = _cert("gw.city.kurume.lg.jp", "久留米市 サーバー CA", keys[2], keys[1], ca=False, names=["gw.city.kurume.lg.jp"])
    expired = _cert("gw.city.kurume.lg.jp", "久留米市 サーバー CA", keys[2], keys[1], ca=False,
                    names=["gw.city.kurume.lg.jp"], days=(-400, -10))
    files = {}
    for name, data in {"root.pem": _pem(root), "chain.pem": _pem(inter), "server.pem": _pem(leaf),
                       "expired.pem": _pem(expired), "bad-chain.pem": _pem(root)}.items():
        (tmp_path / name).write_bytes(data)
        files[name] = tmp_path / name
    for name, key in (("server.key", keys[2]), ("other.key", keys[3])):
        (tmp_path / name).write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
        files[name] = tmp_path / name
    return files


def test_tls_import_takes_the_citys_certificate_and_chain_and_refuses_what_would_not_work(serving, today_home, city_pki):
    pki = city_pki
    before = (today_home / "keys" / "server.crt").read_bytes()
    for args, needle in (
        (["--cert", pki["server.pem"], "--key", pki["other.key"], "--chain", pki["chain.pem"]], "does not belong"),
        (["--cert", pki["expired.pem"], "--key", pki["server.key"], "--chain", pki["chain.pem"]], "not valid now"),
        (["--cert", pki["server.pem"], "--key", pki["server.key"], "--chain", pki["bad-chain.pem"]], "did not issue"),
        (["--cert", pki["root.pem"].with_name("missing.pem"), "--key", pki["server.key"]], "cannot open"),
    ):
        assert_told(gateway(today_home, "tls", "import", *map(str, args), check=False), needle)
    assert (today_home / "keys" / "server.crt").read_bytes() == before  # nothing was replaced
    refused = json.loads(gateway(today_home, "log", "--json", "--action", "tls.import", "--outcome", "refused").stdout)
    assert len(refused) == 4

    out = json.loads(gateway(today_home, "tls", "import", "--cert", str(pki["server.pem"]), "--key",
                             str(pki["server.key"]), "--chain", str(pki["chain.pem"]), "--json").stdout)
    assert out["names"] == ["gw.city.kurume.lg.jp"] and out["chain"] == 1 and not out["issued_here"]
    assert (today_home / "keys" / "server.crt.previous").read_bytes() == before
    [entry] = json.loads(gateway(today_home, "log", "--json", "--action", "tls.import", "--outcome", "ok").stdout)
    assert "gw.city.kurume.lg.jp" in entry["reason"]
    # A browser that trusts only the city's root reaches the service under the city's name.
    service = serving("--portal-port", "0", "--help-port", "0", home=today_home)
    assert handshake(service.ports["help"], "gw.city.kurume.lg.jp", pki["root.pem"]) == ["gw.city.kurume.lg.jp"]
    # init never replaces a certificate it did not issue.
    assert_told(gateway(today_home, "init", "--hostname", "gw2.city.kurume.lg.jp", check=False), "tls import")
