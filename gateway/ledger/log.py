"""Appending to the access log: one entry per action, in the transaction of the change it records.

Every appender locks the single `ledger_head` row first, so entries from concurrent processes
still form one linear chain; if the surrounding transaction rolls back, its entry goes with it,
so no change exists without its entry and no entry without its change.

Each entry's hash is also a leaf of an RFC 6962 Merkle tree, kept in the head row as its frontier
(a few hashes per entry), and every `checkpoint_every` entries, at shutdown and at export the
ledger signs a C2SP checkpoint of it (origin, size, root; audit/FORMAT.md, format 2). Nothing here
talks to a witness: submitting checkpoints happens outside every hand-over's transaction
(gateway/witnessing), so a witness that is slow or down can never hold one up.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import Clock, timestamp, to_jst
from gateway.crypto.canonical_json import canonical
from gateway.crypto.keystore import SigningKey
from gateway.errors import Unavailable
from gateway.ledger.hashing import document_hash, leaf_hash
from gateway.ledger.note import Checkpoint as C2spCheckpoint
from gateway.ledger.note import sign_checkpoint
from gateway.ledger.tree import CompactTree
from gateway.store import models as m

CHANNELS = ("lgwan-asp", "vpn-sftp", "courier", "hotfolder", "cli", "system")
OUTCOMES = ("ok", "refused", "failed")
CHECKPOINT_EVERY = 1000


@dataclass(frozen=True)
class Actor:
    user: str | None = None
    org: str | None = None
    role: str | None = None
    terminal: str | None = None  # SHA-256 of the portal client certificate
    ssh_key: str | None = None  # SHA256:... fingerprint of the SFTP key

    def to_dict(self) -> dict[str, Any]:
        return {"user": self.user, "org": self.org, "role": self.role,
                "terminal": self.terminal, "ssh_key": self.ssh_key}


SYSTEM = Actor(role="system")


@dataclass(frozen=True)
class Event:
    action: str
    channel: str
    actor: Actor = SYSTEM
    source: str | None = None
    approval: str | None = None
    transfer: str | None = None
    blob_sha256: str | None = None
    outcome: str = "ok"
    kinds: tuple[str, ...] = ()
    reason: str | None = None
    # An evidence document to issue with this entry: its type-specific members (FORMAT.md).
    evidence_type: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    # The organisation an administrative entry is about (the account a password or terminal was
    # issued to), when neither its actor nor its objects say so: it decides which city's security
    # officer reads the entry. Kept beside the entry for filtering, not in its signed body.
    subject_org: str | None = None


class Ledger:
    def __init__(self, signer: SigningKey, installation: str, clock: Clock, origin: str,
                 checkpoint_every: int = CHECKPOINT_EVERY, *, node: str = "") -> None:
        self.signer = signer
        # Which gateway node appended (`[cluster] node`), in each entry of a multi-node log; a
        # single node leaves it out, so its entries read as they always did.
        self.node = node
        self.installation = installation
        self.clock = clock
        self.origin = origin  # the checkpoints' first line and the key name they are signed under
        self.checkpoint_every = checkpoint_every

    def record(self, session: Session, event: Event, *,
               attach: Callable[[int, datetime], dict[str, Any]] | None = None) -> tuple[int, dict[str, Any] | None]:
        """Append one entry (and its evidence document, if any); returns its seq and the document.

        `attach(seq, at)` instead returns a signed document the caller stores itself (a pruning
        statement, which must outlive its entry); the entry binds it like any evidence document.
        """
        if event.channel not in CHANNELS or event.outcome not in OUTCOMES:
            raise ValueError(f"bad channel or outcome: {event.channel}/{event.outcome}")
        if attach is not None and event.evidence_type is not None:
            raise ValueError("an entry binds one document: evidence_type or attach, not both")
        head = lock_head(session)
        seq = head.seq + 1
        at = self.clock.now()  # read under the head's lock: appenders see one clock in one order
        refuse_time_before_head(session, head, at)
        document = None
        evidence_ref = None
        if attach is not None:
            attached = attach(seq, at)
            evidence_ref = {"id": attached["id"], "sha256": document_hash(attached)}
        if event.evidence_type is not None:
            document = self.signer.sign({
                **event.evidence,
                "type": event.evidence_type,
                "id": f"{event.evidence_type}-{uuid.uuid4().hex[:20]}",
                "approval": event.approval,
                "log_seq": seq,
                "issued_at": timestamp(at),
            })
            evidence_ref = {"id": document["id"], "sha256": document_hash(document)}
        entry = {
            "seq": seq,
            "at": timestamp(at),
            "actor": event.actor.to_dict(),
            "source": event.source,
            "channel": event.channel,
            "action": event.action,
            "object": {"approval": event.approval, "transfer": event.transfer, "blob_sha256": event.blob_sha256},
            "outcome": event.outcome,
            "kinds": list(event.kinds),
            "reason": event.reason,
            "evidence": evidence_ref,
            "prev": head.hash,
        }
        if self.node:
            entry["node"] = self.node
        entry_hash = leaf_hash(entry)
        session.add(m.LogEntry(
            seq=seq, at=at, hash=entry_hash, body=canonical(entry).decode("utf-8"),
            action=event.action, outcome=event.outcome, actor_user=event.actor.user, actor_org=event.actor.org,
            approval_id=event.approval, transfer_id=event.transfer, subject_org=event.subject_org,
        ))
        session.flush()  # the entry row must exist before the document that references it
        if document is not None:
            session.add(m.EvidenceDocument(
                id=document["id"], type=document["type"], approval_id=event.approval, transfer_id=event.transfer,
                log_seq=seq, body=canonical(document).decode("utf-8"), issued_at=at,
            ))
        tree = CompactTree.decode(head.seq, head.tree)
        tree.add_hex(entry_hash)
        head.seq, head.hash, head.tree = seq, entry_hash, tree.encode()
        if seq - head.checkpoint_size >= self.checkpoint_every:
            self._checkpoint(session, head, at)
        session.flush()
        return seq, document

    def checkpoint(self, session: Session) -> str | None:
        """Sign the current head (at shutdown and at export); nothing new to sign, nothing written."""
        head = lock_head(session)
        if head.seq == head.checkpoint_size:
            return None
        return self._checkpoint(session, head, self.clock.now())

    def _checkpoint(self, session: Session, head: m.LedgerHead, at: datetime) -> str:
        """A C2SP checkpoint of entries 1..head.seq, signed as a note under the origin."""
        tree = CompactTree.decode(head.seq, head.tree)
        note = sign_checkpoint(C2spCheckpoint(self.origin, head.seq, tree.root()), self.signer.private)
        session.add(m.Checkpoint(size=head.seq, body=note, frontier=head.tree, at=at))
        head.checkpoint_size = head.seq
        return note


class ClockBehind(Unavailable):
    """The clock reads earlier than the log's last entry: time is evidence, and a log whose times
    go back says false things (a backdated send looks in-period). Nothing is recorded."""

    def __init__(self, at: datetime, head_at: datetime) -> None:
        now, last = (to_jst(t).isoformat(timespec="microseconds") for t in (at, head_at))
        super().__init__(
            f"時計（{now}）がアクセスログの最後の記録（{last}）より前を指しています。"
            "記録の時刻は戻せないため、何も記録していません。管理者はシステムの時計（NTP）を確認してください。"
            f"リハーサルでは GATEWAY_FAKE_NOW を {last} 以降にしてください。",
            f"the clock ({now}) reads earlier than the log's last entry ({last}); times in the log never go "
            "back, so nothing was recorded. The administrator must check the system clock (NTP); in a "
            f"rehearsal, set GATEWAY_FAKE_NOW to {last} or later.",
        )


def refuse_time_before_head(session: Session, head: m.LedgerHead, at: datetime) -> None:
    """Entry times never decrease along the chain (the auditor checks the same)."""
    if head.seq:
        head_at = session.scalar(select(m.LogEntry.at).where(m.LogEntry.seq == head.seq))
        if head_at is not None and at < head_at:
            raise ClockBehind(at, head_at)


def lock_head(session: Session) -> m.LedgerHead:
    """The head row, locked for this transaction: no entry can be appended until it ends."""
    # FOR UPDATE serialises appenders on PostgreSQL; SQLite transactions already begin IMMEDIATE.
    return session.execute(select(m.LedgerHead).where(m.LedgerHead.id == 1).with_for_update()).scalar_one()


def entries(session: Session, *, since_seq: int = 0) -> Iterable[dict[str, Any]]:
    for body in session.scalars(select(m.LogEntry.body).where(m.LogEntry.seq > since_seq).order_by(m.LogEntry.seq)):
        yield json.loads(body)
