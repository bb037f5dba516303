"""Checking a stored range of the log before anything acts on it (a prune): every entry present,
hashed and linked, and covered by signed C2SP checkpoints whose roots are the Merkle roots of the
log, so that a broken or edited range is never laundered into a clean signed statement. Also where
the log starts now, after earlier prunes (and the tree's frontier there)."""
from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import Conflict
from gateway.ledger.checkpoints import note_with_cosignatures
from gateway.ledger.hashing import GENESIS_PREV
from gateway.ledger.note import NoteError, parse_checkpoint, parse_note, signed_by, verifier_key
from gateway.ledger.tree import CompactTree
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
    tree: CompactTree = field(default_factory=CompactTree)  # of the removed entries alone: tree_hash
    head: str = GENESIS_PREV
    by_action: Counter[str] = field(default_factory=Counter)
    by_outcome: Counter[str] = field(default_factory=Counter)
    oldest: str | None = None
    newest: str | None = None
    checkpoints: int = 0
    checkpoint: str | None = None  # the signed C2SP checkpoint at the cut, with its cosignatures
    frontier: list[str] = field(default_factory=list)  # the whole log's tree at the cut, hex


def check_range(session: Session, base: int, base_head: str, base_frontier: list[bytes], cut: int,
                keys: dict[str, str], origin: str) -> Removed:
    """`base_frontier`: the tree of entries 1..base (the last statement's frontier), from which
    the roots of the checkpoints in the range are recomputed; `keys`: id -> base64 public key."""
    removed = Removed(head=base_head)
    whole = CompactTree(base, base_frontier)
    expected = base + 1
    trees: dict[int, CompactTree] = {}
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
        # the auditor does; the checkpoints' signed roots then cover every byte of the range.
        entry_hash = hashlib.sha256(b"\x00" + body.encode("utf-8")).hexdigest()
        if entry_hash != stored:
            raise BrokenLog(f"entry {seq} does not match its hash")
        if entry.get("prev") != removed.head:
            raise BrokenLog(f"entry {seq} does not link to the entry before it")
        removed.head = entry_hash
        removed.tree.add_hex(entry_hash)
        whole.add_hex(entry_hash)
        removed.count += 1
        removed.by_action[str(entry.get("action"))] += 1
        removed.by_outcome[str(entry.get("outcome"))] += 1
        at = entry.get("at")
        removed.oldest = at if removed.oldest is None or at < removed.oldest else removed.oldest
        removed.newest = at if removed.newest is None or at > removed.newest else removed.newest
        if seq in wanted:
            trees[seq] = whole.copy()
        expected += 1
    if expected != cut + 1:
        raise BrokenLog(f"entries {expected}–{cut} are missing")
    verifiers = [verifier_key(origin, base64.b64decode(public)) for public in keys.values()]
    for size, body, frontier in session.execute(select(m.Checkpoint.size, m.Checkpoint.body, m.Checkpoint.frontier)
                                                .where(m.Checkpoint.size > base, m.Checkpoint.size <= cut)
                                                .order_by(m.Checkpoint.size)):
        tree = trees.get(size)
        try:
            note = parse_note(body.encode("utf-8"))
            head = parse_checkpoint(note.text)
            signer = signed_by(note, verifiers)
        except NoteError as err:
            raise BrokenLog(f"checkpoint {size}: {err}") from None
        if tree is None or head.size != size or head.origin != origin or head.root != tree.root():
            raise BrokenLog(f"checkpoint {size} does not match the log")
        if signer is None:
            raise BrokenLog(f"checkpoint {size} is not signed by a key of this installation")
        if frontier != tree.encode():
            raise BrokenLog(f"the stored frontier of checkpoint {size} is not the log's")
        removed.checkpoints += 1
        if size == cut:
            removed.checkpoint = note_with_cosignatures(session, size, body)
            removed.frontier = [h.hex() for h in tree.frontier]
    if removed.checkpoint is None:
        raise BrokenLog(f"no checkpoint at entry {cut}")
    return removed


def origin(session: Session) -> tuple[int, str, dict[str, Any] | None]:
    """Where the log now starts: (seq of the last entry pruned, its hash, the last statement).
    (0, 64 zeros, None) for a log never pruned. Readers that walk the chain start from here."""
    body = session.scalar(select(LogPruning.body).order_by(LogPruning.last_seq.desc()).limit(1))
    if body is None:
        return 0, GENESIS_PREV, None
    statement = json.loads(body)
    return statement["range"]["last"], statement["head"], statement


def frontier_of(statement: dict[str, Any] | None) -> list[bytes]:
    """The tree of the entries a statement accounts for (1..range.last), as it published it."""
    if statement is None:
        return []
    return [bytes.fromhex(h) for h in statement["frontier"]]
