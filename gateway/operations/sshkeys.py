"""Registering the SSH public keys contractors' handlers log in with over the VPN (SFTP) channel."""
from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_ssh_public_key
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import Conflict, Forbidden, Invalid
from gateway.ledger.log import Actor
from gateway.operations.accounts import account
from gateway.operations.attempt import attempt
from gateway.service import Gateway
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
    except (ValueError, TypeError):
        raise Invalid("公開鍵を読めません。", "cannot read the public key.") from None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise Invalid(f"RSA 鍵が短すぎます（{key.key_size} ビット）。ed25519 の鍵を使ってください。",
                           f"the RSA key is too short ({key.key_size} bits); use an ed25519 key.")
    if not isinstance(key, (ed25519.Ed25519PublicKey, rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        raise Invalid("この種類の鍵は使えません。ed25519 の鍵を使ってください。",
                           "this key type is not accepted; use an ed25519 key.")
    return f"{parts[0]} {parts[1]}"


def add_key(gw: Gateway, login: str, text: str, actor: Actor) -> str:
    with attempt(gw, actor, "user.add-key", channel="cli") as a:
        public = parse(text)
        fp = fingerprint(public)
        with gw.unit() as session:
            user = account(session, login)
            if user.role != "contractor":
                raise Forbidden("SFTP の鍵は受託者の取扱者にだけ登録できます。",
                                "SFTP keys are registered for contractors' handlers only.")
            existing = session.get(SshKey, fp)
            if existing is not None:
                if existing.user_id == user.id:
                    return fp
                raise Conflict("この鍵は別の利用者に登録されています。鍵は一人一つです。",
                               "this key is registered to another person; a key belongs to one person.")
            session.add(SshKey(fingerprint=fp, user_id=user.id, public_key=public, added_at=gw.clock.now()))
            gw.ledger.record(session, a.event(reason=f"{login}: {public.split()[0]} {fp}"))
    return fp


def key_owner(session: Session, fp: str) -> str | None:
    from gateway.store import models as m

    row = session.get(SshKey, fp)
    if row is None:
        return None
    user = session.get(m.User, row.user_id)
    return user.login if user is not None and not user.disabled else None


def keys_of(session: Session, user_id: int) -> list[str]:
    return list(session.scalars(select(SshKey.public_key).where(SshKey.user_id == user_id)))
