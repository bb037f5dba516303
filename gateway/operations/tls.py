"""`gateway tls import`: the city's or an LGPKI server certificate for the portal, checked before
it replaces the one in use (gateway/crypto/servercert.py), and logged like any other change."""
from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization

from gateway.crypto import servercert
from gateway.errors import Invalid
from gateway.ledger.log import Actor
from gateway.operations.attempt import attempt
from gateway.service import Gateway


def _read(path: Path, what_ja: str, what_en: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise Invalid(f"{what_ja}のファイル {path} を開けません（{err.strerror}）。パスと権限を確認してください。",
                      f"cannot open the {what_en} file {path} ({err.strerror}); check its path and permissions.") from None


def import_certificate(gw: Gateway, actor: Actor, cert: Path, key: Path, chain: Path | None,
                       key_passphrase: bytes | None = None) -> dict[str, object]:
    with attempt(gw, actor, "tls.import", channel="cli") as a:
        cert_pem = _read(cert, "証明書", "certificate")
        key_pem = _read(key, "秘密鍵", "private key")
        chain_pem = _read(chain, "中間証明書", "chain") if chain else None
        installed = servercert.load_import(cert_pem, key_pem, chain_pem, gw.clock.now(), key_passphrase)
        private = serialization.load_pem_private_key(key_pem, key_passphrase)
        plain_key = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())
        servercert.install(gw.home.keys, plain_key, installed)
        described = servercert.describe(gw.home.keys)
        gw.record(a.event(reason=f"server certificate {described.sha256[:16]} for {', '.join(described.names)}, "
                                 f"issued by {described.issuer}, valid until {described.not_after:%Y-%m-%d}"))
    return described.to_json()
