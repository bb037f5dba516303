"""Pruning the access log and its evidence after their own, long retention window.

Nothing leaves the log silently. A prune removes a *prefix* of the log that ends at a signed
checkpoint, and in the same transaction writes a signed **pruning statement** (audit/FORMAT.md,
log/prunings.jsonl) and the `log.prune` entry that binds it into the chain: the range removed,
the checkpoint at the cut (so the remaining chain, and the remaining checkpoints, still link to
something signed), the RFC 6962 tree hash of the removed entries, what they were (counts per action,
outcome and evidence type), the window and the rule, when and by which process. Killed at any
point, the transaction leaves either nothing changed or the whole prune with its statement.

The rule (`RULE`), for a window of N years (`[retention] log_years`, default 10) at time `now`:

* an entry may go when it is older than `now - N years` **and** every approval it names (directly,
  or through the transfer it names) was *closed* before `now - N years`: its records are kept N
  years after the case closed, not N years after they were written;
* an approval is closed when its period has ended and each of its transfers is closed; a transfer
  is closed when the gateway's copy is erased, the contractor's erasure certificate is filed where
  the approval requires one, courier media expected back have come back, and every deliverable
  the contractor returned is erased. It closed at the latest of those events and deadlines. An
  approval that is not closed (a live case, or an unresolved deletion-overdue) holds its entries
  for as long as it stays open;
* entries leave only as a prefix of the log up to a checkpoint: the cut is the largest checkpoint
  before the first entry that must stay. So a held entry also keeps every entry after it.

Before deleting anything the removed range is checked (hashes, links, checkpoints and their
signatures): a prune never launders a broken or edited log into a clean signed statement.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Table, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.clock import timestamp, to_jst
from gateway.core import tomlfile
from gateway.crypto.canonical_json import canonical
from gateway.errors import GatewayError
from gateway.home import Home
from gateway.ledger.hashing import GENESIS_PREV, node_hash
from gateway.ledger.log import Actor, Event, lock_head
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.models_courier import CourierEvent, CourierItem
from gateway.store.models_pruning import LogPruning
from gateway.store.models_sftp import Deliverable
from gateway.store.schema import metadata

CONFIG_FILE = "gateway.toml"
DEFAULT_LOG_YEARS = 10
RULE = "closed-cases/1"
ACTION = "log.prune"
PROGRAM = "gateway retention prune-log"
PRUNER = Actor(role="system")


# -- the window ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class LogRetention:
    log_years: int = DEFAULT_LOG_YEARS
    source: str = "default"  # the config file it came from, or "default"


def load_retention(home: Home) -> LogRetention:
    """`[retention] log_years` from `$GATEWAY_HOME/gateway.toml`; 10 years without the file.

    Other tables of the file belong to other parts of the gateway and are not read here; the
    `[retention]` table is read strictly, so a misspelt key is an error, not a silent default.
    """
    path = home.root / CONFIG_FILE
    if not path.exists():
        return LogRetention()
    doc = tomlfile.parse(tomlfile.read_text(path), path)
    if "retention" not in doc:
        return LogRetention(source=str(path))
    table = tomlfile.Table(doc["retention"], "retention", path)
    years = table.int("log_years", required=False, minimum=1)
    table.done()
    return LogRetention(DEFAULT_LOG_YEARS if years is None else years, str(path))


def window_start(now: datetime, years: int) -> datetime:
    """`now` minus whole calendar years (29 February falls back to the 28th)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


# -- what must stay -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Hold:
    ja: str
    en: str


@dataclass
class Holds:
    approvals: dict[str, Hold] = field(default_factory=dict)   # approval id -> why its entries stay
    transfer_approval: dict[str, str] = field(default_factory=dict)


def _latest(first: datetime, *others: datetime | None) -> datetime:
    return max([first, *(t for t in others if t is not None)])


def holds(session: Session, now: datetime, start: datetime) -> Holds:
    """Every approval whose entries must stay at `now` for a window starting at `start`."""
    out = Holds()
    closing: dict[str, datetime] = {}
    open_: dict[str, Hold] = {}
    for approval_id, period_end in session.execute(select(m.Approval.id, m.Approval.period_end)):
        closing[approval_id] = period_end
        if period_end > now:
            open_[approval_id] = Hold(f"承認 {approval_id} の期間が終わっていません",
                                      f"the period of approval {approval_id} has not ended")
    certified = dict(session.execute(
        select(m.ContractorDeletion.transfer_id, func.max(m.ContractorDeletion.updated_at))
        .where(m.ContractorDeletion.state == "certified").group_by(m.ContractorDeletion.transfer_id)).all())
    for t in session.execute(select(m.Transfer.id, m.Transfer.approval_id, m.Transfer.sent_at, m.Transfer.received_at,
                                    m.Transfer.erased_at, m.Transfer.gateway_erase_due,
                                    m.Transfer.contractor_deletion_due)):
        out.transfer_approval[t.id] = t.approval_id
        closing[t.approval_id] = _latest(closing[t.approval_id], t.sent_at, t.received_at, t.erased_at,
                                         t.gateway_erase_due, t.contractor_deletion_due, certified.get(t.id))
        if t.erased_at is None:
            open_.setdefault(t.approval_id, Hold(f"受渡し {t.id} のゲートウェイ上の複製が消去されていません",
                                                 f"the gateway's copy of transfer {t.id} is not erased"))
        elif t.contractor_deletion_due is not None and t.id not in certified:
            open_.setdefault(t.approval_id, Hold(f"受渡し {t.id} の受託者の消去証明書が提出されていません",
                                                 f"the contractor has not certified erasure for transfer {t.id}"))
    for transfer_id, uploaded_at, erased_at in session.execute(
            select(Deliverable.transfer_id, Deliverable.uploaded_at, m.Blob.erased_at)
            .join(m.Blob, m.Blob.id == Deliverable.blob_id, isouter=True)):
        approval_id = out.transfer_approval.get(transfer_id)
        if approval_id is None:
            continue
        closing[approval_id] = _latest(closing[approval_id], uploaded_at, erased_at)
        if erased_at is None:
            open_.setdefault(approval_id, Hold(f"受渡し {transfer_id} の納品物が消去されていません",
                                               f"a deliverable of transfer {transfer_id} is not erased"))
    last_event: dict[str, Any] = {}
    for e in session.execute(select(CourierEvent.item_id, CourierEvent.event, CourierEvent.to_org, CourierEvent.at,
                                    CourierEvent.return_due).order_by(CourierEvent.id)):
        last_event[e.item_id] = e
    for item in session.execute(select(CourierItem.id, CourierItem.kind, CourierItem.transfer_id,
                                       CourierItem.registered_org)):
        approval_id = out.transfer_approval.get(item.transfer_id)
        e = last_event.get(item.id)
        if approval_id is None or e is None:
            continue
        closing[approval_id] = _latest(closing[approval_id], e.at, e.return_due)
        if item.kind == "media" and e.event == "handover" and e.return_due is not None \
                and e.to_org != item.registered_org:
            open_.setdefault(approval_id, Hold(f"媒体 {item.id} が返却されていません",
                                               f"media {item.id} has not come back"))
    out.approvals.update(open_)
    for approval_id, closed in closing.items():
        if approval_id not in open_ and closed >= start:
            out.approvals[approval_id] = Hold(
                f"承認 {approval_id} は {to_jst(closed):%Y-%m-%d %H:%M} JST に完結し、まだ保存期間内です",
                f"approval {approval_id} closed at {timestamp(closed)}, within the window")
    return out


@dataclass(frozen=True)
class Blocker:
    seq: int
    ja: str
    en: str


def first_kept(session: Session, base: int, start: datetime, h: Holds) -> Blocker | None:
    """The first entry after `base` that must stay, or None when every entry may go."""
    rows = session.execute(
        select(m.LogEntry.seq, m.LogEntry.at, m.LogEntry.approval_id, m.LogEntry.transfer_id)
        .where(m.LogEntry.seq > base).order_by(m.LogEntry.seq)
        .execution_options(yield_per=5000))
    for seq, at, approval_id, transfer_id in rows:
        if at >= start:
            return Blocker(seq, f"ログ {seq} は {to_jst(at):%Y-%m-%d %H:%M} JST の記録で保存期間内です",
                           f"entry {seq} was written at {timestamp(at)}, within the window")
        for a in (approval_id, h.transfer_approval.get(transfer_id) if transfer_id else None):
            if a is not None and a in h.approvals:
                why = h.approvals[a]
                return Blocker(seq, f"ログ {seq} は承認 {a} の記録です（{why.ja}）",
                               f"entry {seq} belongs to approval {a} ({why.en})")
    return None


# -- checking the range before it goes --------------------------------------------------------

class TreeHash:
    """RFC 6962 Merkle tree hash over leaf hashes given one at a time (O(log n) memory)."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (size, hash) of perfect subtrees, largest first

    def add(self, leaf_hex: str) -> None:
        size, node = 1, bytes.fromhex(leaf_hex)
        while self._stack and self._stack[-1][0] == size:
            left = self._stack.pop()[1]
            node = hashlib.sha256(b"\x01" + left + node).digest()
            size *= 2
        self._stack.append((size, node))

    def hexdigest(self) -> str:
        if not self._stack:
            return hashlib.sha256(b"").hexdigest()
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = hashlib.sha256(b"\x01" + left + node).digest()
        return node.hex()


class BrokenLog(GatewayError):
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


def _check_range(session: Session, base: int, base_head: str, base_checkpoint: str | None, cut: int,
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


# -- the prune ----------------------------------------------------------------------------------

@dataclass
class PruneResult:
    pruned: bool
    now: datetime
    window_start: datetime
    retention: LogRetention
    statement: dict[str, Any] | None = None
    log_seq: int | None = None
    kept_from: Blocker | None = None  # the first entry that had to stay
    remaining_from: int = 1  # seq of the first entry still in the log

    def to_json(self) -> dict[str, Any]:
        s = self.statement
        return {
            "pruned": self.pruned,
            "statement": s["id"] if s else None,
            "range": s["range"] if s else None,
            "entries": s["removed"]["entries"] if s else 0,
            "evidence_documents": s["removed"]["evidence_documents"] if s else 0,
            "log_seq": self.log_seq,
            "now": timestamp(self.now),
            "window_start": timestamp(self.window_start),
            "log_years": self.retention.log_years,
            "rule": RULE,
            "remaining_from": self.remaining_from,
            "kept_from": {"seq": self.kept_from.seq, "reason": self.kept_from.en,
                          "reason_ja": self.kept_from.ja} if self.kept_from else None,
        }


def origin(session: Session) -> tuple[int, str, dict[str, Any] | None]:
    """Where the log now starts: (seq of the last entry pruned, its hash, the last statement).
    (0, 64 zeros, None) for a log never pruned. Readers that walk the chain start from here."""
    body = session.scalar(select(LogPruning.body).order_by(LogPruning.last_seq.desc()).limit(1))
    if body is None:
        return 0, GENESIS_PREV, None
    statement = json.loads(body)
    return statement["range"]["last"], statement["head"], statement


def _log_referencing_tables() -> list[tuple[Table, Any]]:
    """Tables other than the evidence documents that point at log entries (courier custody
    records today): their rows are copies of logged evidence and go with their entries."""
    out = []
    for table in metadata.sorted_tables:
        if table.name in ("log_entries", "evidence_documents"):
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == "log_entries":
                out.append((table, fk.parent))
    return out


def prune_log(gw: Gateway, *, retention: LogRetention | None = None, now: datetime | None = None,
              channel: str = "cli") -> PruneResult:
    retention = retention or load_retention(gw.home)
    now = now or gw.clock.now()
    start = window_start(now, retention.log_years)
    result = PruneResult(False, now, start, retention)
    try:
        with gw.unit() as session:
            head = lock_head(session)  # appenders and other prunes wait until this transaction ends
            base, base_head, last = origin(session)
            result.remaining_from = base + 1
            h = holds(session, now, start)
            blocker = first_kept(session, base, start, h)
            result.kept_from = blocker
            limit = head.seq if blocker is None else blocker.seq - 1
            cut = session.scalar(select(func.max(m.Checkpoint.size))
                                 .where(m.Checkpoint.size > base, m.Checkpoint.size <= limit))
            if cut is None:
                return result  # nothing old enough ends at a checkpoint: nothing changes, nothing is logged
            removed = _check_range(session, base, base_head,
                                   node_hash(last["checkpoint"]) if last else None, cut,
                                   gw.keys.public_signing_keys())
            by_type = dict(session.execute(select(m.EvidenceDocument.type, func.count())
                                           .where(m.EvidenceDocument.log_seq <= cut)
                                           .group_by(m.EvidenceDocument.type)).all())
            session.execute(delete(m.EvidenceDocument).where(m.EvidenceDocument.log_seq <= cut)
                            .execution_options(synchronize_session=False))
            others: dict[str, int] = {}
            for table, column in _log_referencing_tables():
                gone = session.execute(table.delete().where(column <= cut)).rowcount
                if gone:
                    others[table.name] = others.get(table.name, 0) + gone
            session.execute(delete(m.Checkpoint).where(m.Checkpoint.size <= cut)
                            .execution_options(synchronize_session=False))
            session.execute(delete(m.LogEntry).where(m.LogEntry.seq <= cut)
                            .execution_options(synchronize_session=False))

            def attach(seq: int, at: datetime) -> dict[str, Any]:
                statement = gw.ledger.signer.sign({
                    "type": "log-pruning",
                    "id": f"log-pruning-{uuid.uuid4().hex[:20]}",
                    "installation": gw.ledger.installation,
                    "log_seq": seq,
                    "issued_at": timestamp(at),
                    "range": {"first": base + 1, "last": cut},
                    "first_prev": base_head,
                    "head": removed.head,
                    "tree_hash": removed.tree.hexdigest(),
                    "checkpoint": removed.checkpoint,
                    "prev": node_hash(last) if last else None,
                    "removed": {
                        "entries": removed.count,
                        "by_action": dict(sorted(removed.by_action.items())),
                        "by_outcome": dict(sorted(removed.by_outcome.items())),
                        "oldest_at": removed.oldest,
                        "newest_at": removed.newest,
                        "checkpoints": removed.checkpoints,
                        "evidence_documents": sum(by_type.values()),
                        "evidence_by_type": dict(sorted(by_type.items())),
                        "other_records": dict(sorted(others.items())),
                    },
                    "retention": {"log_years": retention.log_years, "now": timestamp(now),
                                  "window_start": timestamp(start), "rule": RULE,
                                  "kept_from": blocker.seq if blocker else None},
                    "process": {"host": socket.gethostname(), "pid": os.getpid(), "program": PROGRAM},
                })
                session.add(LogPruning(id=statement["id"], first_seq=base + 1, last_seq=cut, log_seq=seq,
                                       body=canonical(statement).decode("utf-8"), at=at))
                result.statement = statement
                return statement

            result.log_seq, _ = gw.ledger.record(session, Event(
                action=ACTION, channel=channel, actor=PRUNER,
                reason=f"pruned entries {base + 1}-{cut} ({removed.count} entries,"
                       f" {sum(by_type.values())} evidence documents) older than {retention.log_years} years"
                       f" under rule {RULE}",
            ), attach=attach)
            result.pruned = True
            result.remaining_from = cut + 1
    except IntegrityError as err:
        raise GatewayError(
            "ログを参照している記録があるため削除できません。何も変更していません。",
            f"records still refer to the entries to prune ({type(err.orig).__name__}); nothing was changed.",
        ) from None
    return result
