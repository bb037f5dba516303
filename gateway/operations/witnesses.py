"""Configuring the witnesses the gateway submits its checkpoints to (`gateway witness ...`).

Adding or removing a witness is an act of the operator and is logged (`witness.add`,
`witness.remove`); a verifier's trust policy, not this list, decides which witnesses count, so a
witness the operator removes still has its cosignatures in every bundle, and one the operator adds
vouches for nothing until the policy names it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from gateway.clock import monotonic, timestamp
from gateway.errors import Conflict, Invalid, NotFound
from gateway.ledger.log import Actor
from gateway.ledger.note import SIG_COSIGNATURE_V1, NoteError, VerifierKey, b64, parse_verifier_key
from gateway.operations.attempt import attempt
from gateway.service import Gateway
from gateway.store.models_witness import Witness
from gateway.witnessing.submit import Outcome, submit_pending


def parse_witness_key(text: str) -> VerifierKey:
    try:
        key = parse_verifier_key(text)
    except NoteError as err:
        raise Invalid(f"ウィットネスの検証鍵を読めません（{err}）。"
                      "`audit witness keygen` が表示した 1 行を指定してください。",
                      f"cannot read the witness's verifier key ({err}); "
                      "give the line `audit witness keygen` printed.") from None
    if key.type != SIG_COSIGNATURE_V1:
        raise Invalid("これはウィットネスの鍵（cosignature/v1、種別 0x04）ではありません。",
                      "this is not a witness key (cosignature/v1, type 0x04).")
    return key


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise Invalid(f"URL「{url[:100]}」は使えません。例: https://witness.example.jp/"
                      "（POST <URL>/add-checkpoint を呼びます）",
                      f"cannot use the URL {url[:100]!r}; e.g. https://witness.example.jp/"
                      " (the gateway POSTs to <URL>/add-checkpoint).")
    return url.rstrip("/")


@dataclass(frozen=True)
class Added:
    name: str
    url: str
    vkey: str
    first: Outcome | None  # the first submission, made at once so the operator sees whether it works

    def to_json(self) -> dict[str, Any]:
        return {"witness": self.name, "url": self.url, "key": self.vkey,
                "submitted": self.first.to_json() if self.first else None}


def add(gw: Gateway, url: str, vkey: str, actor: Actor) -> Added:
    with attempt(gw, actor, "witness.add", channel="cli") as a:
        key = parse_witness_key(vkey)
        url = check_url(url)
        if b64(key.public) in gw.keys.public_signing_keys().values():
            raise Invalid("これはゲートウェイ自身の鍵です。ウィットネスは別の当事者の鍵でなければなりません。",
                          "this is the gateway's own key: a witness must be another party's.")
        with gw.unit() as session:
            same = session.scalar(select(Witness).where(Witness.name == key.name, Witness.removed_at.is_(None)))
            if same is not None:
                raise Conflict(f"ウィットネス {key.name} は既に登録されています。"
                               "鍵を替えるときは先に `gateway witness remove` してください。",
                               f"witness {key.name} is already configured; to change its key, remove it first.")
            row = Witness(name=key.name, url=url, vkey=str(key), added_at=gw.clock.now(), size=0, failures=0)
            session.add(row)
            gw.ledger.record(session, a.event(reason=f"witness {key.name} at {url}, key {key}"))
            # A checkpoint now, so the new witness has something to cosign at once.
            gw.ledger.checkpoint(session)
            session.flush()
            witness_id = row.id
    outcomes = submit_pending(gw, until=monotonic() + gw.settings.witness.export_wait_seconds, only=witness_id,
                              newest=True)
    return Added(key.name, url, str(key), outcomes[0] if outcomes else None)


def remove(gw: Gateway, name: str, actor: Actor) -> None:
    with attempt(gw, actor, "witness.remove", channel="cli") as a, gw.unit() as session:
        row = session.scalar(select(Witness).where(Witness.name == name, Witness.removed_at.is_(None)))
        if row is None:
            raise NotFound(f"ウィットネス {name} は登録されていません（`gateway witness list` で確認できます）。",
                           f"no witness {name} is configured (see `gateway witness list`).")
        row.removed_at = gw.clock.now()
        gw.ledger.record(session, a.event(reason=f"witness {name} at {row.url} removed; its cosignatures stay"))


def listing(gw: Gateway, *, removed: bool = False) -> list[dict[str, Any]]:
    with gw.read() as session:
        query = select(Witness).order_by(Witness.name, Witness.id)
        if not removed:
            query = query.where(Witness.removed_at.is_(None))
        return [{"witness": w.name, "url": w.url, "key": w.vkey, "size": w.size,
                 "added_at": timestamp(w.added_at), "removed_at": timestamp(w.removed_at) if w.removed_at else None,
                 "last_ok_at": timestamp(w.last_ok_at) if w.last_ok_at else None,
                 "last_error": w.last_error, "failures": w.failures} for w in session.scalars(query)]


def submit_now(gw: Gateway) -> list[Outcome]:
    """Checkpoint the head and send what is pending to every witness, bounded by
    `[witness] export_wait_seconds` (for installations without `gateway serve`, e.g. from cron).
    Logs nothing: it changes no record, and an entry would itself need witnessing."""
    with gw.unit() as session:
        gw.ledger.checkpoint(session)
    return submit_pending(gw, until=monotonic() + gw.settings.witness.export_wait_seconds)
