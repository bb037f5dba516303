"""Appending to the access log: one entry per action, in the transaction of the change it records.

Every appender locks the single `ledger_head` row first, so entries from concurrent processes
still form one linear chain; if the surrounding transaction rolls back, its entry goes with it,
so no change exists without its entry and no entry without its change.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import Clock, timestamp
from gateway.crypto.canonical_json import canonical
from gateway.crypto.keystore import SigningKey
from gateway.ledger.hashing import document_hash, leaf_hash, node_hash
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


class Ledger:
    def __init__(self, signer: SigningKey, installation: str, clock: Clock,
                 checkpoint_every: int = CHECKPOINT_EVERY) -> None:
        self.signer = signer
        self.installation = installation
        self.clock = clock
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
        at = self.clock.now()
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
        entry_hash = leaf_hash(entry)
        session.add(m.LogEntry(
            seq=seq, at=at, hash=entry_hash, body=canonical(entry).decode("utf-8"),
            action=event.action, outcome=event.outcome, actor_user=event.actor.user, actor_org=event.actor.org,
            approval_id=event.approval, transfer_id=event.transfer,
        ))
        session.flush()  # the entry row must exist before the document that references it
        if document is not None:
            session.add(m.EvidenceDocument(
                id=document["id"], type=document["type"], approval_id=event.approval, transfer_id=event.transfer,
                log_seq=seq, body=canonical(document).decode("utf-8"), issued_at=at,
            ))
        head.seq, head.hash = seq, entry_hash
        if seq - head.checkpoint_size >= self.checkpoint_every:
            self._checkpoint(session, head, at)
        session.flush()
        return seq, document

    def checkpoint(self, session: Session) -> dict[str, Any] | None:
        """Sign the current head (at shutdown and at export); nothing new to sign, nothing written."""
        head = lock_head(session)
        if head.seq == head.checkpoint_size:
            return None
        return self._checkpoint(session, head, self.clock.now())

    def _checkpoint(self, session: Session, head: m.LedgerHead, at: datetime) -> dict[str, Any]:
        cp = self.signer.sign({
            "type": "checkpoint",
            "installation": self.installation,
            "size": head.seq,
            "head": head.hash,
            "prev": head.checkpoint_hash,
            "at": timestamp(at),
        })
        session.add(m.Checkpoint(size=head.seq, body=canonical(cp).decode("utf-8"), at=at))
        head.checkpoint_size, head.checkpoint_hash = head.seq, node_hash(cp)
        return cp


def lock_head(session: Session) -> m.LedgerHead:
    """The head row, locked for this transaction: no entry can be appended until it ends."""
    # FOR UPDATE serialises appenders on PostgreSQL; SQLite transactions already begin IMMEDIATE.
    return session.execute(select(m.LedgerHead).where(m.LedgerHead.id == 1).with_for_update()).scalar_one()


def entries(session: Session, *, since_seq: int = 0) -> Iterable[dict[str, Any]]:
    for body in session.scalars(select(m.LogEntry.body).where(m.LogEntry.seq > since_seq).order_by(m.LogEntry.seq)):
        yield json.loads(body)
