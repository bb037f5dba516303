"""What the city publishes so that anyone can verify its evidence without trusting its operator
(`gateway keys publish`): the log's origin, the gateway's C2SP verifier key(s), and a trust-policy
template (audit/FORMAT.md, "The trust policy") naming the witnesses the gateway submits to.

The verifier key is `<origin>+<key id>+base64(0x01 || Ed25519 public key)`, the same key that signs
evidence (keys.json lists it by its 16-hex evidence key id). The policy names the genesis key, which
every bundle's keys.json starts from, and the current key when a rotation made a new one; a
verifier accepts a rotation only when a key it already trusts signed it.

The text published last is kept in the database, so the portal's officer report runs the auditor
under exactly the policy the installation handed out, not one it makes up at report time.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway.errors import Invalid, Unavailable
from gateway.fsutil import atomic_output
from gateway.ledger.log import Actor
from gateway.ledger.note import verifier_key
from gateway.operations.attempt import attempt
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.models_witness import Witness

FORMAT = "audit-trust-policy/1"
PUBLISHED = "published_trust_policy"  # settings row: the text `gateway keys publish` wrote last


@dataclass(frozen=True)
class Published:
    origin: str
    log_keys: list[str]
    witnesses: list[str]
    quorum: int
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {"origin": self.origin, "log_keys": self.log_keys, "witnesses": self.witnesses,
                "quorum": self.quorum, "sha256": self.sha256}


def log_verifier_keys(gw: Gateway) -> list[str]:
    """The genesis key first, then the current one if a rotation replaced it."""
    keys = gw.keys.public_signing_keys()
    ids = list(dict.fromkeys([gw.keys.genesis_key_id(), gw.ledger.signer.id]))
    out = []
    for kid in ids:
        if kid not in keys:
            raise Unavailable(f"署名鍵 {kid} の公開鍵がありません。`gateway init` を実行してください。",
                              f"the public key of signing key {kid} is missing; run `gateway init`.")
        out.append(str(verifier_key(gw.ledger.origin, base64.b64decode(keys[kid]))))
    return out


def current_verifier_key(gw: Gateway) -> str:
    return str(verifier_key(gw.ledger.origin, gw.ledger.signer.public.public_bytes_raw()))


def policy(gw: Gateway, quorum: int | None = None) -> Published:
    with gw.read() as session:
        witnesses = list(session.scalars(select(Witness.vkey).where(Witness.removed_at.is_(None))
                                         .order_by(Witness.name, Witness.id)))
    if quorum is None:
        quorum = len(witnesses) // 2 + 1 if witnesses else 0  # a majority of the witnesses configured
    if not 0 <= quorum <= len(witnesses):
        raise Invalid(f"quorum は 0 から登録済みウィットネスの数（{len(witnesses)}）までで指定してください。",
                      f"the quorum must be between 0 and the {len(witnesses)} witnesses configured.")
    log_keys = log_verifier_keys(gw)
    q = lambda xs: "[" + "".join(f'\n  "{x}",' for x in xs) + ("\n]" if xs else "]")  # noqa: E731
    text = (
        f"# 信頼ポリシー / trust policy for the evidence of log {gw.ledger.origin}\n"
        "# `gateway keys publish` が書き出したもの。検証者は [log] keys を市が別途公表した検証鍵と、\n"
        "# [witnesses] keys を各ウィットネスの運用者に照合してから使うこと。\n"
        "# Written by `gateway keys publish`. Before relying on it, check [log] keys against the verifier\n"
        "# key the city publishes elsewhere, and each [witnesses] key with that witness's operator.\n"
        "# Use: audit verify BUNDLE --trust THIS_FILE\n"
        f'format = "{FORMAT}"\n\n'
        "[log]\n"
        f'origin = "{gw.ledger.origin}"\n'
        f"keys = {q(log_keys)}\n\n"
        "[witnesses]\n"
        "# 連署が必要なウィットネスの数 / how many of these must cosign the latest checkpoint\n"
        f"quorum = {quorum}\n"
        f"keys = {q(witnesses)}\n"
    )
    return Published(gw.ledger.origin, log_keys, witnesses, quorum, text)


def publish(gw: Gateway, out: Path, actor: Actor, quorum: int | None = None) -> Published:
    """Write the policy to `out` (readable by all: nothing in it is secret) and keep it as the
    installation's published policy."""
    with attempt(gw, actor, "keys.publish", channel="cli") as a:
        published = policy(gw, quorum)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(out) as f:
                f.write(published.text.encode("utf-8"))
            out.chmod(0o644)
        except OSError as err:
            raise Invalid(f"{out} に書き込めません（{err.strerror}）。",
                          f"cannot write {out} ({err.strerror}).") from None
        with gw.unit() as session:
            row = session.get(m.Setting, PUBLISHED)
            if row is None:
                session.add(m.Setting(key=PUBLISHED, value=published.text))
            else:
                row.value = published.text
            gw.ledger.record(session, a.event(
                reason=f"published trust policy sha256 {published.sha256}: origin {published.origin},"
                       f" {len(published.log_keys)} log key(s), {len(published.witnesses)} witness(es),"
                       f" quorum {published.quorum}"))
    return published


def published_text(gw: Gateway) -> str:
    """The policy last published; before any, the one `gateway keys publish` would write now."""
    with gw.read() as session:
        row = session.get(m.Setting, PUBLISHED)
        if row is not None:
            return row.value
    return policy(gw).text
