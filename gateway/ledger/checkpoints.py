"""Reading the stored checkpoints: the note files a bundle carries, and consistency proofs.

A checkpoint file (audit/FORMAT.md, `checkpoints/<size>.note`) is the gateway's signed note
followed by the witnesses' cosignature lines exactly as they returned them, in a fixed order (by
witness name, then when it was added), so two exports of the same state write the same bytes.
"""
from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.ledger.consistency import ProofUnavailable, consistency_proof
from gateway.ledger.tree import CompactTree
from gateway.store import models as m
from gateway.store.models_pruning import LogPruning
from gateway.store.models_witness import Cosignature, Witness


def cosignature_lines(session: Session, size: int) -> list[str]:
    return list(session.scalars(select(Cosignature.line).join(Witness, Witness.id == Cosignature.witness_id)
                                .where(Cosignature.checkpoint_size == size).order_by(Witness.name, Witness.id)))


def note_with_cosignatures(session: Session, size: int, body: str | None = None) -> str:
    if body is None:
        body = session.scalars(select(m.Checkpoint.body).where(m.Checkpoint.size == size)).one()
    return body + "".join(line + "\n" for line in cosignature_lines(session, size))


def frontier_at(session: Session, size: int) -> list[bytes]:
    """The tree's frontier at a size the ledger signed: a checkpoint still stored, or the cut of a
    pruning statement (whose checkpoint went with the entries)."""
    if size == 0:
        return []
    stored = session.scalar(select(m.Checkpoint.frontier).where(m.Checkpoint.size == size))
    if stored is not None:
        return CompactTree.decode(size, stored).frontier
    statement = session.scalar(select(LogPruning.body).where(LogPruning.last_seq == size))
    if statement is not None:
        return [bytes.fromhex(h) for h in json.loads(statement)["frontier"]]
    raise ProofUnavailable(f"the log has no checkpoint of size {size}: no consistency proof can start there")


def proof(session: Session, old: int, new: int) -> list[bytes]:
    """PROOF(old, D[new]) from the frontier stored at `old` and the leaves old+1..new."""

    def leaves(start: int, end: int) -> Iterator[bytes]:
        # 0-based leaf i is entry seq i + 1
        rows = session.scalars(select(m.LogEntry.hash).where(m.LogEntry.seq > start, m.LogEntry.seq <= end)
                               .order_by(m.LogEntry.seq).execution_options(yield_per=5000))
        for leaf in rows:
            yield bytes.fromhex(leaf)

    return consistency_proof(old, new, frontier_at(session, old), leaves)
