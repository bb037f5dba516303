"""Sending the ledger's checkpoints to the configured witnesses and keeping their cosignatures.

In the background every checkpoint a witness has not cosigned yet is sent to it in order of size,
each with the consistency proof from the size that witness last cosigned. A caller that waits
(an export, `witness add`) asks for the newest checkpoint only: after an outage the witness then
cosigns the head the bundle ends at within one request, instead of working through the backlog
first (the checkpoints skipped stay uncosigned: a witness never goes back). Nothing here runs inside a hand-over's
transaction: the checkpoints and proofs are read from a snapshot, the HTTP request is made with no
transaction open, and a cosignature is stored in a short transaction of its own. A witness that is
down, slow or refusing costs the caller at most the time it allowed (`until`), and is recorded on
the witness's row (`gateway witness list`); it never fails an operation, and neither does our own
database being busy while a cosignature is stored (the next round stores it again).

A cosignature is kept only after it verifies under the witness's configured key over exactly the
checkpoint it was asked to sign.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.clock import monotonic
from gateway.errors import GatewayError
from gateway.ledger.checkpoints import proof
from gateway.ledger.consistency import ProofUnavailable
from gateway.ledger.note import (
    NoteError,
    VerifierKey,
    parse_note,
    parse_signature_line,
    parse_verifier_key,
    verify_cosignature,
)
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.models_witness import Cosignature, Witness
from gateway.witnessing.protocol import Connection, WitnessUnreachable, request_body

_log = logging.getLogger("gateway.witnessing")


@dataclass
class Outcome:
    """What one round did with one witness."""
    witness: str
    url: str
    cosigned: list[int] = field(default_factory=list)  # checkpoint sizes cosigned in this round
    size: int = 0  # the size the witness has cosigned, as far as we know
    error: str | None = None  # why the round stopped early (the witness is retried later)

    def to_json(self) -> dict[str, object]:
        return {"witness": self.witness, "url": self.url, "cosigned": self.cosigned, "size": self.size,
                "error": self.error}


class _Stop(Exception):
    """This witness cannot go further this round; the message is for the operator."""


def active_witnesses(gw: Gateway) -> list[Witness]:
    with gw.read() as session:
        return list(session.scalars(select(Witness).where(Witness.removed_at.is_(None)).order_by(Witness.id)))


def submit_pending(gw: Gateway, *, until: float, only: int | None = None, newest: bool = False,
                   connections: dict[int, Connection] | None = None) -> list[Outcome]:
    """One round over the active witnesses (or the one with id `only`), until the monotonic time
    `until`; `newest`: only the latest checkpoint. `connections` keeps keep-alive connections
    between rounds (the background thread)."""
    conns = connections if connections is not None else {}
    outcomes = []
    try:
        for witness in active_witnesses(gw):
            if only is not None and witness.id != only:
                continue
            outcomes.append(_submit_to(gw, witness, conns, until, newest))
    finally:
        if connections is None:
            for conn in conns.values():
                conn.close()
    return outcomes


def _submit_to(gw: Gateway, witness: Witness, conns: dict[int, Connection], until: float,
               newest: bool) -> Outcome:
    out = Outcome(witness.name, witness.url, size=witness.size)
    try:
        key = parse_verifier_key(witness.vkey)
        conn = conns.get(witness.id)
        if conn is None:
            conn = conns[witness.id] = Connection(witness.url, gw.settings.witness.timeout_seconds)
        while True:
            pending = _pending(gw, witness.id, out.size, newest)
            if not pending:
                break
            size, note = pending
            remaining = until - monotonic()
            if remaining <= 0:
                raise _Stop("time ran out before the witness cosigned every checkpoint")
            with gw.read() as session:
                nodes = proof(session, out.size, size)
            try:
                answer = conn.add_checkpoint(request_body(out.size, nodes, note),
                                             timeout=min(remaining, gw.settings.witness.timeout_seconds))
            except WitnessUnreachable as err:
                raise _Stop(f"unreachable: {err}") from None
            if answer.status == 200:
                line, cosigned_at = _cosignature(answer.body, key, note)
                _store(gw, witness.id, size, line, cosigned_at)
                out.cosigned.append(size)
                out.size = size
                continue
            behind = answer.size
            if behind is None or behind == out.size:
                # A 409 without a size (or with the size we sent) is a fork: the witness cosigned
                # another root for this size. Never retried silently: someone must look.
                raise _Stop(answer.reason())
            latest = _latest_size(gw)
            if behind > latest:
                raise _Stop(f"the witness has cosigned size {behind}, beyond this log's {latest}: "
                            "was the database restored from a backup, or does someone else sign as this log?")
            if behind < out.size:
                # It once said more: a witness that lost its state could be led to cosign a fork.
                _log.warning("witness %s now says size %d after %d: it lost its state", witness.name, behind, out.size)
            out.size = behind  # our idea of its size was stale; resend from where it is
            _record(gw, witness.id, size=behind)
    except _Stop as stop:
        out.error = str(stop)
    except (ProofUnavailable, NoteError, ValueError) as err:
        out.error = f"{type(err).__name__}: {err}"
    except GatewayError as err:  # our own database busy or unavailable: the witness is not at fault
        out.error = f"not submitted: {err.en}"
    try:
        _record(gw, witness.id, size=out.size, ok=out.error is None, error=out.error)
    except GatewayError as err:  # the next round records it; a submission never fails its caller
        out.error = out.error or f"not recorded: {err.en}"
    return out


def _pending(gw: Gateway, witness_id: int, witness_size: int, newest: bool) -> tuple[int, str] | None:
    """The smallest (or the largest) checkpoint from the witness's size on that it has not
    cosigned, with its note."""
    with gw.read() as session:
        done = select(Cosignature.checkpoint_size).where(Cosignature.witness_id == witness_id)
        order = m.Checkpoint.size.desc() if newest else m.Checkpoint.size
        row = session.execute(select(m.Checkpoint.size, m.Checkpoint.body)
                              .where(m.Checkpoint.size >= witness_size, m.Checkpoint.size.not_in(done))
                              .order_by(order).limit(1)).first()
    return (row[0], row[1]) if row else None


def _latest_size(gw: Gateway) -> int:
    with gw.read() as session:
        head = session.get(m.LedgerHead, 1)
        return head.seq if head else 0


def _cosignature(body: bytes, key: VerifierKey, note: str) -> tuple[str, int]:
    """The witness's own line among those it returned, verified over the checkpoint's text."""
    text = parse_note(note.encode("utf-8")).text
    problems = []
    for raw in body.decode("utf-8", "replace").split("\n"):
        if not raw:
            continue
        try:
            sig = parse_signature_line(raw)
            if (sig.name, sig.key_id) != (key.name, key.id):
                continue  # another key of a multi-key witness: not the one we were told of
            return raw, verify_cosignature(key, text, sig)
        except NoteError as err:
            problems.append(str(err))
    raise _Stop("the witness answered 200 without a valid cosignature by its configured key"
                + (f" ({problems[0]})" if problems else ""))


def _store(gw: Gateway, witness_id: int, size: int, line: str, cosigned_at: int) -> None:
    now = gw.clock.now()
    try:
        with gw.unit() as session:
            if session.get(Cosignature, (size, witness_id)) is None and session.get(m.Checkpoint, size) is not None:
                session.add(Cosignature(checkpoint_size=size, witness_id=witness_id, line=line,
                                        cosigned_at=datetime.fromtimestamp(cosigned_at, UTC),
                                        received_at=now))
            _update(session, witness_id, size=size, ok=True, now=now)
    except IntegrityError:
        pass  # another submitter stored the same cosignature, or a prune removed the checkpoint


def _record(gw: Gateway, witness_id: int, *, size: int, ok: bool = False, error: str | None = None) -> None:
    with gw.unit() as session:
        _update(session, witness_id, size=size, ok=ok, error=error, now=gw.clock.now())


def _update(session: Session, witness_id: int, *, size: int, now: datetime, ok: bool = False,
            error: str | None = None) -> None:
    row = session.get(Witness, witness_id)
    if row is None:
        return
    row.size = size  # the witness's latest word; a stale one only costs a 409 and a resend
    if ok:
        row.last_ok_at, row.last_error, row.failures = now, None, 0
    elif error is not None:
        row.last_error, row.failures = error[:1000], row.failures + 1
