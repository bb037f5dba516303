"""Registering the SSH public keys contractors' handlers log in with over the VPN (SFTP) channel."""
from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_ssh_public_key
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import timestamp
from gateway.errors import Conflict, Forbidden, Invalid, NotFound
from gateway.ledger.log import Actor
from gateway.operations.accounts import account
from gateway.operations.attempt import attempt
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.models_ssh import SshKey

MIN_RSA_BITS = 3072  # NIST SP 800-57: 128-bit security; shorter RSA keys and DSA are refused


def fingerprint(public_key: str) -> str:
    """OpenSSH's SHA256 fingerprint of an "ssh-ed25519 AAAA..." line."""
    blob = base64.b64decode(public_key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def parse(text: str) -> str:
    """The key as "type base64", checked: refuses private keys, garbage, weak algorithms."""
    line = text.strip()
    if "PRIVATE KEY" in line:
        raise Invalid("秘密鍵が渡されました。公開鍵（.pub）だけを登録してください。秘密鍵は漏えいとして扱い、作り直してください。",
                           "this is a private key: register the public key (.pub) only, and treat this private key "
                           "as disclosed: make a new one.")
    parts = line.split()
    if len(parts) < 2 or len(line.splitlines()) != 1:
        raise Invalid("OpenSSH 形式の公開鍵（1 行）ではありません。", "not an OpenSSH public key (one line).")
    try:
        key = load_ssh_public_key(f"{parts[0]} {parts[1]}".encode())
    except (ValueError, TypeError, UnsupportedAlgorithm):  # an unknown type word ("not a key") is the last
        raise Invalid("公開鍵を読めません。", "cannot read the public key.") from None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise Invalid(f"RSA 鍵が短すぎます（{key.key_size} ビット）。ed25519 の鍵を使ってください。",
                           f"the RSA key is too short ({key.key_size} bits); use an ed25519 key.")
    if not isinstance(key, (ed25519.Ed25519PublicKey, rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        raise Invalid("この種類の鍵は使えません。ed25519 の鍵を使ってください。",
                           "this key type is not accepted; use an ed25519 key.")
    return f"{parts[0]} {parts[1]}"


def add_key(gw: Gateway, login: str, text: str, actor: Actor, channel: str = "cli") -> str:
    """Register a handler's key: for logging in over SFTP and for signing attestations. The
    registration is signed evidence (`key-registration`), so that an auditor knows from when the
    key was whose (`principal` login@organisation, as `allowed_signers` names it)."""
    with attempt(gw, actor, "user.add-key", channel=channel) as a:
        public = parse(text)
        fp = fingerprint(public)
        with gw.unit() as session:
            user = account(session, login)
            a.subject_org = user.organisation_id
            if user.role != "contractor":
                raise Forbidden("SFTP の鍵は受託者の取扱者にだけ登録できます。",
                                "SFTP keys are registered for contractors' handlers only.")
            existing = session.get(SshKey, fp)
            if existing is not None:
                if existing.user_id == user.id and existing.revoked_at is None:
                    return fp
                if existing.user_id == user.id:
                    raise Conflict("この鍵は取り消されています。新しい鍵を作って登録してください。",
                                   "this key was revoked; make a new key and register that.")
                raise Conflict("この鍵は別の利用者に登録されています。鍵は一人一つです。",
                               "this key is registered to another person; a key belongs to one person.")
            now = gw.clock.now()
            row = SshKey(fingerprint=fp, user_id=user.id, public_key=public, added_at=now)
            session.add(row)
            _, document = gw.ledger.record(session, a.event(
                reason=f"{login}: {public.split()[0]} {fp}", evidence_type="key-registration",
                evidence={**_key_party(user, public, fp), "valid_from": timestamp(now)}))
            assert document is not None
            row.registration_evidence = document["id"]
    return fp


def revoke_key(gw: Gateway, login: str, key: str, actor: Actor, channel: str = "cli") -> str:
    """Withdraw a handler's key (a leaver, a lost laptop): it no longer logs in or signs from now
    on. What it signed while valid stays valid; the revocation is signed evidence too."""
    with attempt(gw, actor, "user.revoke-key", channel=channel) as a, gw.unit() as session:
        user = account(session, login)
        a.subject_org = user.organisation_id
        fp = key if key.startswith("SHA256:") else fingerprint(parse(key))
        row = session.get(SshKey, fp, with_for_update=True)
        if row is None or row.user_id != user.id:
            raise NotFound(f"利用者「{login}」にこの鍵（{fp}）は登録されていません。",
                           f"no key {fp} is registered for '{login}'.")
        if row.revoked_at is not None:
            raise Conflict("この鍵は既に取り消されています。", "this key was already revoked.")
        now = gw.clock.now()
        row.revoked_at = now
        gw.ledger.record(session, a.event(
            reason=f"{login}: revoked {fp}", evidence_type="key-revocation",
            evidence={**_key_party(user, row.public_key, fp), "valid_until": timestamp(now),
                      "registration": row.registration_evidence}))
        return fp


def principal(user: m.User) -> str:
    """Who signs, as OpenSSH's allowed_signers names them: login@organisation."""
    return f"{user.login}@{user.organisation_id}"


def _key_party(user: m.User, public: str, fp: str) -> dict[str, object]:
    return {"user": user.login, "org": user.organisation_id, "principal": principal(user),
            "public_key": public, "fingerprint": fp}


def key_owner(session: Session, fp: str) -> str | None:
    """The login whose active key this is (a revoked key belongs to nobody now)."""
    row = session.get(SshKey, fp)
    if row is None or row.revoked_at is not None:
        return None
    user = session.get(m.User, row.user_id)
    return user.login if user is not None and not user.disabled else None


def keys_of(session: Session, user_id: int) -> list[str]:
    return list(session.scalars(select(SshKey.public_key).where(SshKey.user_id == user_id,
                                                                SshKey.revoked_at.is_(None))))
