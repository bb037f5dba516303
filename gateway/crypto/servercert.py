"""The portal's TLS server certificate: issued by the gateway's own CA for the names the service
is reached by (`gateway init --hostname NAME`), or imported from the city or LGPKI
(`gateway tls import`). Either way it is `keys/server.crt` (leaf first, then its chain) and
`keys/server.key`; the one replaced is kept as `server.crt.previous` / `server.key.previous`.

An imported certificate is checked before anything is written: its key matches, it is valid
now, it may authenticate a server, and each certificate of the chain issued the one before it.
A certificate we did not issue is never replaced by `init --hostname`.
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.errors import Conflict, Invalid
from gateway.fsutil import atomic_output, fsync_dir

SERVER_DAYS = 397  # the longest validity browsers accept for a TLS server certificate
LOCAL_NAMES = ("localhost", "127.0.0.1")


@dataclass(frozen=True)
class Described:
    subject: str
    issuer: str
    names: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    issued_here: bool
    chain: int  # certificates after the leaf
    sha256: str

    def to_json(self) -> dict[str, object]:
        return {"subject": self.subject, "issuer": self.issuer, "names": list(self.names),
                "not_before": self.not_before.isoformat(), "not_after": self.not_after.isoformat(),
                "issued_here": self.issued_here, "chain": self.chain, "sha256": self.sha256}


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        pass
    label = name.strip().lower().rstrip(".")
    if not label or len(label) > 253 or not all(
            0 < len(part) <= 63 and part.replace("-", "").isalnum() and part.isascii() and not part.startswith("-")
            for part in label.split(".")):
        raise Invalid(f"ホスト名 {name!r} は使えません（例: gw.city.lg.jp）。",
                      f"{name!r} is not a host name we can put in a certificate (e.g. gw.city.lg.jp).")
    return x509.DNSName(label)


def names_of(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    return tuple([*san.get_values_for_type(x509.DNSName), *(str(ip) for ip in san.get_values_for_type(x509.IPAddress))])


def issue(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, names: tuple[str, ...],
          now: datetime) -> tuple[bytes, bytes]:
    """A new server key and certificate (PEM) for localhost, 127.0.0.1 and `names`."""
    wanted = list(dict.fromkeys([*LOCAL_NAMES, *names]))
    general = [_general_name(n) for n in wanted]
    key = ec.generate_private_key(ec.SECP256R1())
    common = next((n for n in names if not _is_ip(n)), "localhost")
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(general), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return pem_key, cert.public_bytes(serialization.Encoding.PEM)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def issued_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca_cert)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def covers(cert: x509.Certificate, names: tuple[str, ...]) -> bool:
    have = {n.lower().rstrip(".") for n in names_of(cert)}
    return all(n.strip().lower().rstrip(".") in have or str(n) in have for n in names)


def install(keys: Path, key_pem: bytes, chain_pem: bytes) -> None:
    """Make (key, chain) the server's, keeping the pair it replaces as `.previous`."""
    staged = []
    for name, data in (("server.key", key_pem), ("server.crt", chain_pem)):
        target = keys / f"{name}.new"
        with atomic_output(target) as out:
            out.write(data)
        os.chmod(target, 0o600 if name.endswith(".key") else 0o644)
        staged.append((target, keys / name))
    for _, current in staged:
        if current.exists():
            os.replace(current, current.with_name(current.name + ".previous"))
    for new, current in staged:
        os.replace(new, current)
    fsync_dir(keys)


def load_import(cert_pem: bytes, key_pem: bytes, chain_pem: bytes | None, now: datetime,
                password: bytes | None = None) -> bytes:
    """Check a city's or LGPKI certificate, its key and chain; returns the PEM to install (leaf
    first, then the chain as given). Every reason to refuse is said before anything is written."""
    try:
        certs = x509.load_pem_x509_certificates(cert_pem + b"\n" + (chain_pem or b""))
    except ValueError:
        raise Invalid("証明書を PEM 形式で読めません（-----BEGIN CERTIFICATE----- で始まるファイルを指定してください）。",
                      "cannot read the certificate as PEM (give files that begin with -----BEGIN CERTIFICATE-----).") from None
    leaf, chain = certs[0], certs[1:]
    try:
        key = serialization.load_pem_private_key(key_pem, password)
    except (ValueError, TypeError):
        raise Invalid("秘密鍵を読めません（PEM 形式、パスフレーズなし、または --key-passphrase-file で指定）。",
                      "cannot read the private key (PEM, unencrypted, or give --key-passphrase-file).") from None
    if key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != \
            leaf.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        raise Conflict("秘密鍵が証明書と対になっていません。発行時に作った鍵を指定してください。",
                       "the private key does not belong to the certificate; give the key the request was made with.")
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise Invalid(f"証明書の有効期間外です（{leaf.not_valid_before_utc:%Y-%m-%d}〜{leaf.not_valid_after_utc:%Y-%m-%d}）。",
                      f"the certificate is not valid now (valid {leaf.not_valid_before_utc:%Y-%m-%d} to "
                      f"{leaf.not_valid_after_utc:%Y-%m-%d}).")
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.SERVER_AUTH not in usages and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in usages:
            raise Invalid("この証明書はサーバー認証に使えません（拡張鍵使用法に serverAuth がありません）。",
                          "this certificate may not authenticate a server (its extended key usage lacks serverAuth).")
    except x509.ExtensionNotFound:
        pass
    if not names_of(leaf):
        raise Invalid("証明書にサブジェクト代替名（SAN）がありません。ブラウザーはこの証明書を受け入れません。",
                      "the certificate has no subject alternative names; browsers would not accept it.")
    for child, parent in zip(certs, chain, strict=False):
        if not issued_by(child, parent):
            raise Invalid(f"中間証明書の順序または組み合わせが正しくありません: {parent.subject.rfc4514_string()} は "
                          f"{child.subject.rfc4514_string()} を発行していません。",
                          f"the chain is out of order or incomplete: {parent.subject.rfc4514_string()} did not issue "
                          f"{child.subject.rfc4514_string()}.")
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def describe(keys: Path) -> Described:
    certs = x509.load_pem_x509_certificates((keys / "server.crt").read_bytes())
    leaf = certs[0]
    ca = x509.load_pem_x509_certificate((keys / "ca.crt").read_bytes())
    return Described(
        subject=leaf.subject.rfc4514_string(), issuer=leaf.issuer.rfc4514_string(), names=names_of(leaf),
        not_before=leaf.not_valid_before_utc, not_after=leaf.not_valid_after_utc, issued_here=issued_by(leaf, ca),
        chain=len(certs) - 1, sha256=leaf.fingerprint(hashes.SHA256()).hex())
