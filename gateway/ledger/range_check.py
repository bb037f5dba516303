"""Checking a stored range of the log before anything acts on it (a prune): every entry present,
hashed and linked, and covered by signed checkpoints, so that a broken or edited range is never
laundered into a clean signed statement. Also where the log starts now, after earlier prunes."""
from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.crypto.canonical_json import canonical
from gateway.errors import Conflict
from gateway.ledger.hashing import GENESIS_PREV, node_hash
from gateway.ledger.tree import TreeHash
from gateway.store import models as m
from gateway.store.models_pruning import LogPruning


class BrokenLog(Conflict):
    def __init__(self, en: str) -> None:
        super().__init__(
            f"削除しようとした範囲のアクセスログが整合しません（{en}）。改ざんの疑いがあるため削除しません。"
            " `gateway export evidence` と `audit verify` で確認してください。",
            f"the access log in the range to prune does not verify ({en}); nothing was pruned:"
            " a suspected alteration is never pruned away. Check it with `gateway export evidence`"
            " and `audit verify`.",
        )


@dataclass
class Removed:
    count: int = 0
    tree: TreeHash = field(default_factory=TreeHash)
    head: str = GENESIS_PREV
    by_action: Counter[str] = field(default_factory=Counter)
    by_outcome: Counter[str] = field(default_factory=Counter)
    oldest: str | None = None
    newest: str | None = None
    checkpoints: int = 0
    checkpoint: dict[str, Any] | None = None  # the signed checkpoint at the cut


def check_range(session: Session, base: int, base_head: str, base_checkpoint: str | None, cut: int,
                 keys: dict[str, str]) -> Removed:
    removed = Removed(head=base_head)
    expected = base + 1
    sizes: dict[int, str] = {}
    wanted = set(session.scalars(select(m.Checkpoint.size).where(m.Checkpoint.size > base, m.Checkpoint.size <= cut)))
    rows = session.execute(select(m.LogEntry.seq, m.LogEntry.hash, m.LogEntry.body)
                           .where(m.LogEntry.seq > base, m.LogEntry.seq <= cut).order_by(m.LogEntry.seq)
                           .execution_options(yield_per=5000))
    for seq, stored, body in rows:
        if seq != expected:
            raise BrokenLog(f"entry {expected} is missing")
        entry = json.loads(body)
        if entry.get("seq") != seq:
            raise BrokenLog(f"entry {seq} carries another seq")
        # The body is the canonical JSON that was hashed and is exported as is: hash its bytes, as
        # the auditor does; the checkpoints' signed heads then cover every byte of the range.
        entry_hash = hashlib.sha256(b"\x00" + body.encode("utf-8")).hexdigest()
        if entry_hash != stored:
            raise BrokenLog(f"entry {seq} does not match its hash")
        if entry.get("prev") != removed.head:
            raise BrokenLog(f"entry {seq} does not link to the entry before it")
        removed.head = entry_hash
        removed.tree.add(entry_hash)
        removed.count += 1
        removed.by_action[str(entry.get("action"))] += 1
        removed.by_outcome[str(entry.get("outcome"))] += 1
        at = entry.get("at")
        removed.oldest = at if removed.oldest is None or at < removed.oldest else removed.oldest
        removed.newest = at if removed.newest is None or at > removed.newest else removed.newest
        if seq in wanted:
            sizes[seq] = entry_hash
        expected += 1
    if expected != cut + 1:
        raise BrokenLog(f"entries {expected}–{cut} are missing")
    previous = base_checkpoint
    for size, body in session.execute(select(m.Checkpoint.size, m.Checkpoint.body)
                                      .where(m.Checkpoint.size > base, m.Checkpoint.size <= cut)
                                      .order_by(m.Checkpoint.size)):
        cp = json.loads(body)
        if cp.get("size") != size or cp.get("head") != sizes.get(size):
            raise BrokenLog(f"checkpoint {size} does not match the log")
        if cp.get("prev") != previous:
            raise BrokenLog(f"checkpoint {size} does not link to the checkpoint before it")
        _check_signature(cp, keys, f"checkpoint {size}")
        previous = node_hash(cp)
        removed.checkpoints += 1
        removed.checkpoint = cp
    if removed.checkpoint is None or removed.checkpoint["size"] != cut:
        raise BrokenLog(f"no checkpoint at entry {cut}")
    return removed


def _check_signature(document: dict[str, Any], keys: dict[str, str], what: str) -> None:
    signature = document.get("signature") or {}
    public = keys.get(signature.get("key_id", ""))
    if public is None:
        raise BrokenLog(f"{what} is signed by an unknown key")
    body = {k: v for k, v in document.items() if k != "signature"}
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public)).verify(
            base64.b64decode(signature.get("value", "")), canonical(body))
    except (InvalidSignature, ValueError):
        raise BrokenLog(f"the signature of {what} does not verify") from None


def origin(session: Session) -> tuple[int, str, dict[str, Any] | None]:
    """Where the log now starts: (seq of the last entry pruned, its hash, the last statement).
    (0, 64 zeros, None) for a log never pruned. Readers that walk the chain start from here."""
    body = session.scalar(select(LogPruning.body).order_by(LogPruning.last_seq.desc()).limit(1))
    if body is None:
        return 0, GENESIS_PREV, None
    statement = json.loads(body)
    return statement["range"]["last"], statement["head"], statement


