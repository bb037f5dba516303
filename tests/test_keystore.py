"""The key store: created once with owner-only files, kept on re-init, rotation verifiable."""
from __future__ import annotations

import base64
import json
import os
import subprocess
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from gateway.crypto.canonical_json import canonical
from gateway.crypto.keystore import KeyStore

NOW = datetime(2026, 11, 25, tzinfo=UTC)
PRIVATE = ["ca.key", "server.key", "ssh_host_ed25519_key", "exclusion-list.key"]  # KEK generations: tests/store/test_kek_rotation.py


def test_private_files_are_owner_only_and_kept_on_reinit(tmp_path):
    store = KeyStore(tmp_path / "keys")
    assert set(store.ensure(now=NOW)) == {"signing", "ca", "server-certificate", "ssh-host-key", "exclusion-list-key"}
    before = {p: (tmp_path / "keys" / p).read_bytes() for p in PRIVATE}
    for name in PRIVATE + [f"signing/{store.signing_key().id}.key"]:
        assert oct(os.stat(tmp_path / "keys" / name).st_mode & 0o777) == "0o600", name
    assert oct(os.stat(tmp_path / "keys").st_mode & 0o777) == "0o700"
    assert store.ensure(now=NOW) == []
    assert before == {p: (tmp_path / "keys" / p).read_bytes() for p in PRIVATE}


def test_the_single_kek_of_an_older_installation_becomes_generation_1(tmp_path):
    legacy = os.urandom(32)
    (tmp_path / "keys").mkdir(mode=0o700)
    (tmp_path / "keys" / "kek.key").write_bytes(legacy)
    KeyStore(tmp_path / "keys").ensure(now=NOW)
    assert not (tmp_path / "keys" / "kek.key").exists()
    assert (tmp_path / "keys" / "kek" / "00000001.key").read_bytes() == legacy


def test_server_certificate_is_issued_by_the_ca(tmp_path):
    store = KeyStore(tmp_path / "keys")
    store.ensure(now=NOW)
    _, ca = store.ca()
    server = x509.load_pem_x509_certificate((tmp_path / "keys" / "server.crt").read_bytes())
    server.verify_directly_issued_by(ca)
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)


def test_ssh_host_key_is_readable_by_openssh(tmp_path):
    KeyStore(tmp_path / "keys").ensure(now=NOW)
    out = subprocess.run(["ssh-keygen", "-y", "-f", str(tmp_path / "keys" / "ssh_host_ed25519_key")],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("ssh-ed25519 ")
    assert out.split()[1] == (tmp_path / "keys" / "ssh_host_ed25519_key.pub").read_text().split()[1]


def test_rotation_statement_is_signed_by_old_and_new_key(tmp_path):
    store = KeyStore(tmp_path / "keys")
    store.ensure(now=NOW)
    old = store.signing_key()
    statement = store.rotate_signing_key(now=NOW)
    new = store.signing_key()
    assert new.id != old.id and statement["old_key_id"] == old.id and statement["new_key_id"] == new.id
    body = {k: v for k, v in statement.items() if k not in ("signature", "countersignature")}
    old.public.verify(base64.b64decode(statement["signature"]["value"]), canonical(body))
    new.public.verify(base64.b64decode(statement["countersignature"]["value"]), canonical(body))
    assert set(store.public_signing_keys()) == {old.id, new.id}
    assert store.rotation_statements() == [json.loads(json.dumps(statement))]


def test_signed_document_verifies_and_detects_change(tmp_path):
    store = KeyStore(tmp_path / "keys")
    store.ensure(now=NOW)
    key = store.signing_key()
    doc = key.sign({"type": "test", "records": 305115, "名前": "テスト"})
    body = {k: v for k, v in doc.items() if k != "signature"}
    key.public.verify(base64.b64decode(doc["signature"]["value"]), canonical(body))
    body["records"] = 305116
    with pytest.raises(Exception):
        key.public.verify(base64.b64decode(doc["signature"]["value"]), canonical(body))
    assert isinstance(key.private, ed25519.Ed25519PrivateKey)


@pytest.mark.parametrize("value,expected", [
    ({"b": 1, "a": [True, None, "x"]}, b'{"a":[true,null,"x"],"b":1}'),
    ({"\u20ac": 1, "\r": 2, "1": 3}, '{"\\r":2,"1":3,"\u20ac":1}'.encode()),
    ("改行\n制御\u0001", '"改行\\n制御\\u0001"'.encode()),
])
def test_canonical_json_rfc8785(value, expected):
    assert canonical(value) == expected


def test_canonical_json_refuses_floats():
    with pytest.raises(ValueError):
        canonical({"x": 1.5})
