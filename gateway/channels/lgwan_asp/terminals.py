"""Designated terminals (専用端末): client certificates issued by the gateway's CA, and their revocation.

Validity is judged by OpenSSL against the machine's real clock during the handshake, so
certificates and CRLs are dated by the real clock, never by the gateway's (possibly rehearsal)
clock; what is *logged* carries the gateway clock like every other entry.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select

from gateway.clock import real_now
from gateway.crypto.keystore import write_public
from gateway.errors import Conflict, NotFound
from gateway.fsutil import write_secret
from gateway.ledger.log import Actor
from gateway.operations.attempt import attempt
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.models_portal import TerminalCertificate

TERMINAL_DAYS = 365
CRL_FILE = "terminals.crl.pem"
CRL_DAYS = 7  # the portal re-signs it long before it lapses (an expired CRL fails every handshake)


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class Issued:
    serial: str
    fingerprint: str
    key: Path
    cert: Path
    p12: Path
    p12_password: str  # printed once for the browser import; never stored
    not_after: datetime

    def __repr__(self) -> str:
        return f"Issued(serial={self.serial!r})"


def issue(gw: Gateway, login: str, out: Path, *, actor: Actor, now: datetime | None = None,
          days: int = TERMINAL_DAYS, channel: str = "cli") -> Issued:
    """A key and certificate for `login`'s terminal, written owner-only into `out`."""
    with attempt(gw, actor, "terminal.issue", channel=channel) as a:
        now = now or real_now()
        with gw.unit() as session:
            user = session.scalar(select(m.User).where(m.User.login == login))
            if user is None or user.disabled:
                raise NotFound(f"利用者「{login}」は登録されていないか、無効です。",
                                   f"user '{login}' is not registered or is disabled.")
            user_id, org = user.id, user.organisation_id
            a.subject_org = org
        ca_key, ca_cert = gw.keys.ca()
        key = ec.generate_private_key(ec.SECP256R1())
        serial = x509.random_serial_number()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                                     x509.NameAttribute(NameOID.COMMON_NAME, login)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        der = cert.public_bytes(serialization.Encoding.DER)
        fp = fingerprint(der)
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
        stem = f"{login}-{serial:x}"[:120]
        key_path, cert_path, p12_path = out / f"{stem}.key", out / f"{stem}.crt", out / f"{stem}.p12"
        password = secrets.token_urlsafe(12)
        try:
            write_secret(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
            write_secret(cert_path, cert.public_bytes(serialization.Encoding.PEM))
            write_secret(p12_path, pkcs12.serialize_key_and_certificates(
                login.encode(), key, cert, [ca_cert],
                serialization.BestAvailableEncryption(password.encode())))
        except FileExistsError:
            raise Conflict(f"{out} に同名のファイルがあります。別の出力先を指定してください。",
                               f"{out} already holds these files; choose another directory.") from None
        with gw.unit() as session:
            session.add(TerminalCertificate(serial=f"{serial:x}", user_id=user_id, fingerprint=fp,
                                            not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
                                            issued_at=gw.clock.now()))
            session.flush()
            gw.ledger.record(session, a.event(reason=f"terminal certificate {serial:x} for {login} (SHA-256 {fp})"))
        return Issued(f"{serial:x}", fp, key_path, cert_path, p12_path, password, cert.not_valid_after_utc)


def revoke(gw: Gateway, serial_or_login: str, *, actor: Actor, channel: str = "cli") -> list[str]:
    """Revoke one certificate by serial, or every certificate of a user; the CRL is re-signed."""
    with attempt(gw, actor, "terminal.revoke", channel=channel) as a:
        with gw.unit() as session:
            rows = list(session.scalars(select(TerminalCertificate).where(
                TerminalCertificate.serial == serial_or_login.lower().removeprefix("0x"))))
            if not rows:
                user = session.scalar(select(m.User).where(m.User.login == serial_or_login))
                if user is not None:
                    rows = list(session.scalars(select(TerminalCertificate).where(
                        TerminalCertificate.user_id == user.id, TerminalCertificate.revoked.is_(False))))
            if not rows:
                raise NotFound(f"「{serial_or_login}」に当たる有効な端末証明書はありません。",
                                   f"no active terminal certificate matches '{serial_or_login}'.")
            owners = set(session.scalars(select(m.User.organisation_id).where(
                m.User.id.in_({row.user_id for row in rows}))))
            a.subject_org = owners.pop() if len(owners) == 1 else None
            now = gw.clock.now()
            revoked = []
            for row in rows:
                if not row.revoked:
                    row.revoked, row.revoked_at = True, now
                    revoked.append(row.serial)
            if revoked:
                gw.ledger.record(session, a.event(reason=f"revoked terminal certificates {', '.join(revoked)}"))
            # Also ends their open sessions: a revoked terminal must not keep a logged-in browser.
            from gateway.store.models_portal import PortalSession
            for s in session.scalars(select(PortalSession).where(
                    PortalSession.terminal.in_([r.fingerprint for r in rows]), PortalSession.ended_at.is_(None))):
                s.ended_at = now
        write_crl(gw)
        return revoked


def is_active(gw: Gateway, fp: str) -> bool:
    with gw.unit() as session:
        row = session.scalar(select(TerminalCertificate).where(TerminalCertificate.fingerprint == fp))
        return row is not None and not row.revoked


def terminal_owner(gw: Gateway, fp: str) -> int | None:
    with gw.unit() as session:
        row = session.scalar(select(TerminalCertificate).where(TerminalCertificate.fingerprint == fp,
                                                               TerminalCertificate.revoked.is_(False)))
        return row.user_id if row is not None else None


def crl_path(gw: Gateway) -> Path:
    return gw.home.keys / CRL_FILE


def write_crl(gw: Gateway) -> Path:
    """Sign the list of revoked terminal serials with the CA (atomically replaced)."""
    with gw.unit() as session:
        revoked = [(r.serial, r.revoked_at) for r in session.scalars(
            select(TerminalCertificate).where(TerminalCertificate.revoked.is_(True)))]
    ca_key, ca_cert = gw.keys.ca()
    now = real_now()
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(ca_cert.subject)
               .last_update(now - timedelta(minutes=1))
               .next_update(now + timedelta(days=CRL_DAYS)))
    for serial, _at in revoked:
        # The revocation date on the list is the real time: OpenSSL compares it with its own clock.
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(int(serial, 16)).revocation_date(now - timedelta(minutes=1))
            .build())
    crl = builder.sign(ca_key, hashes.SHA256())
    path = crl_path(gw)
    write_public(path, crl.public_bytes(serialization.Encoding.PEM))
    os.utime(path)
    return path
