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
* when an approval is closed is `retention/closure.py`'s rule;
* entries leave only as a prefix of the log up to a checkpoint: the cut is the largest checkpoint
  before the first entry that must stay. So a held entry also keeps every entry after it.

Before deleting anything the removed range is checked (hashes, links, checkpoints and their
signatures, `ledger/range_check.py`): a prune never launders a broken or edited log into a clean
signed statement.
"""
from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.clock import timestamp, to_jst
from gateway.crypto.canonical_json import canonical
from gateway.errors import Conflict
from gateway.ledger.hashing import node_hash
from gateway.ledger.log import Actor, Event, lock_head
from gateway.ledger.range_check import check_range, frontier_of, origin
from gateway.operations.attempt import attempt
from gateway.retention.closure import Holds, holds
from gateway.service import Gateway
from gateway.store import faultpoints
from gateway.store import models as m
from gateway.store.models_pruning import LogPruning
from gateway.store.models_witness import Cosignature
from gateway.store.schema import metadata

RULE = "closed-cases/1"
ACTION = "log.prune"
PROGRAM = "gateway retention prune-log"
PRUNER = Actor(role="system")


# -- the window ---------------------------------------------------------------------------------

def window_start(now: datetime, years: int) -> datetime:
    """`now` minus whole calendar years (29 February falls back to the 28th)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


# -- what must stay -----------------------------------------------------------------------------
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


# -- the prune ----------------------------------------------------------------------------------

@dataclass
class PruneResult:
    pruned: bool
    now: datetime
    window_start: datetime
    log_years: int
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
            "log_years": self.log_years,
            "rule": RULE,
            "remaining_from": self.remaining_from,
            "kept_from": {"seq": self.kept_from.seq, "reason": self.kept_from.en,
                          "reason_ja": self.kept_from.ja} if self.kept_from else None,
        }


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


def prune_log(gw: Gateway, *, log_years: int | None = None, now: datetime | None = None,
              channel: str = "cli") -> PruneResult:
    """`log_years`: the window, by default the settings' `[retention] log_years`."""
    log_years = log_years or gw.settings.retention.log_years
    now = now or gw.clock.now()
    start = window_start(now, log_years)
    result = PruneResult(False, now, start, log_years)
    try:
        with attempt(gw, PRUNER, ACTION, channel=channel), gw.unit() as session:
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
            removed = check_range(session, base, base_head, frontier_of(last), cut,
                                  gw.keys.public_signing_keys(), gw.ledger.origin)
            by_type = dict(session.execute(select(m.EvidenceDocument.type, func.count())
                                           .where(m.EvidenceDocument.log_seq <= cut)
                                           .group_by(m.EvidenceDocument.type)).all())
            session.execute(delete(m.EvidenceDocument).where(m.EvidenceDocument.log_seq <= cut)
                            .execution_options(synchronize_session=False))
            others: dict[str, int] = {}
            for table, column in _log_referencing_tables():
                gone = cast(CursorResult[Any], session.execute(table.delete().where(column <= cut))).rowcount
                if gone:
                    others[table.name] = others.get(table.name, 0) + gone
            # The checkpoints up to the cut go with their entries, and the witnesses' cosignatures
            # with them; the one at the cut lives on, cosignatures included, in the statement.
            session.execute(delete(Cosignature).where(Cosignature.checkpoint_size <= cut)
                            .execution_options(synchronize_session=False))
            session.execute(delete(m.Checkpoint).where(m.Checkpoint.size <= cut)
                            .execution_options(synchronize_session=False))
            session.execute(delete(m.LogEntry).where(m.LogEntry.seq <= cut)
                            .execution_options(synchronize_session=False))
            faultpoints.reached("prune:after-deletes")

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
                    "frontier": removed.frontier,
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
                    "retention": {"log_years": log_years, "now": timestamp(now),
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
                       f" {sum(by_type.values())} evidence documents) older than {log_years} years"
                       f" under rule {RULE}",
            ), attach=attach)
            faultpoints.reached("prune:before-commit")
            result.pruned = True
            result.remaining_from = cut + 1
    except IntegrityError as err:
        raise Conflict(
            "ログを参照している記録があるため削除できません。何も変更していません。",
            f"records still refer to the entries to prune ({type(err.orig).__name__}); nothing was changed.",
        ) from None
    return result
