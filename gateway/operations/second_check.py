"""The second person's side of a held send (core/second_check.py): what they see, and their decision.

The checker sees what identifies the hand-over (recipient, approval, channel, record count,
columns, removed rows, SHA-256 of the file) and never a record of it. Approving releases the
package to the contractor and the password notice to the city; rejecting crypto-erases the
package at once. Only a person the approval names, in the approval's city, who is not the
sender, may decide: any other decision would be a release without the check, and is refused as
`second-check-missing`.
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway.clock import timestamp
from gateway.core.transfers import next_state
from gateway.errors import Conflict, Forbidden, Invalid, NotFound
from gateway.findings import Kind
from gateway.operations.accounts import Caller
from gateway.operations.attempt import Attempt, attempt
from gateway.operations.erasure import erase_in
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.blobs import BlobStore
from gateway.store.models_second_check import SecondCheck
from gateway.store.registry import get_approval, get_profile

MAX_REASON = 2000


@dataclass(frozen=True)
class Decided:
    transfer: str
    approved: bool
    evidence: str
    passphrase: str  # released with an approval (shown once, for the notice); "" when rejected
    notice: Path | None
    notice_html: str | None = None  # the notice itself, for a portal that shows it once

    def __repr__(self) -> str:  # never let the passphrase reach a log or a traceback
        return f"Decided(transfer={self.transfer!r}, approved={self.approved!r})"


def pending(gw: Gateway, caller: Caller) -> list[dict[str, Any]]:
    """The held sends the caller is named to check (all of their city's for a security officer)."""
    with attempt(gw, caller, "second-check.list") as a, gw.read() as session:
        rows = session.execute(select(SecondCheck, m.Transfer).join(
            m.Transfer, m.Transfer.id == SecondCheck.transfer_id).where(m.Transfer.state == "pending-check")
            .order_by(m.Transfer.sent_at)).all()
        out = []
        for check, transfer in rows:
            if a.user.organisation_id == transfer.sender_organisation_id \
                    and (a.user.role == "security-officer" or a.user.login in check.approvers):
                out.append(_summary(session, check, transfer))
        return out


def show(gw: Gateway, caller: Caller, transfer_id: str) -> dict[str, Any]:
    with attempt(gw, caller, "second-check.show", transfer=transfer_id) as a, gw.read() as session:
        check, transfer = _find(a, session, transfer_id)
        if not _may_see(a.user, check, transfer):
            raise NotFound(f"二重確認の対象「{transfer_id}」は見つかりません。",
                           f"no send '{transfer_id}' waits for your check.")
        return _summary(session, check, transfer)


def decide(gw: Gateway, caller: Caller, transfer_id: str, *, approve: bool, reason: str,
           notice_to: Path | None = None, notice_html: bool = False) -> Decided:
    reason = reason.strip()
    action = "second-check.approve" if approve else "second-check.reject"
    with attempt(gw, caller, action, transfer=transfer_id) as a:
        if not reason or len(reason) > MAX_REASON:
            raise Invalid(f"理由（--reason）を 1〜{MAX_REASON} 文字で書いてください。",
                          f"give a reason (--reason) of 1 to {MAX_REASON} characters.")
        if notice_to is not None and notice_to.exists():
            raise Conflict(f"{notice_to} は既に存在します。通知書は上書きしません。",
                           f"{notice_to} exists; a notice is never overwritten.")
        with gw.read() as session:
            check, transfer = _find(a, session, transfer_id)
            _authorise(a, check, transfer)
            if transfer.state != "pending-check":
                raise Conflict(f"この送付は既に確認済みです（{transfer.state}）。",
                               f"this send was already decided ({transfer.state}).")
            shown = _summary(session, check, transfer)
            session.expunge(check)
            session.expunge(transfer)
        blobs = gw.blobs()
        if approve:
            return _approve(a, blobs, check, transfer, shown, reason, notice_to, notice_html)
        return _reject(a, blobs, check, transfer, shown, reason)


def _find(a: Attempt, session: Any, transfer_id: str) -> tuple[SecondCheck, m.Transfer]:
    check = session.get(SecondCheck, transfer_id)
    transfer = session.get(m.Transfer, transfer_id)
    if check is None or transfer is None or a.user.role == "contractor" \
            or a.user.organisation_id != transfer.sender_organisation_id:
        raise NotFound(f"二重確認の対象「{transfer_id}」は見つかりません。",
                       f"no send '{transfer_id}' waits for a second check.")
    a.approval = transfer.approval_id
    return check, transfer


def _may_see(user: m.User, check: SecondCheck, transfer: m.Transfer) -> bool:
    return user.role == "security-officer" or user.id == transfer.sender_user_id or user.login in check.approvers


def _authorise(a: Attempt, check: SecondCheck, transfer: m.Transfer) -> None:
    user = a.user
    if user.id == transfer.sender_user_id:
        raise Forbidden("送付した本人は自分の送付を確認できません。承認に定められた別の確認者に依頼してください。",
                        "the sender cannot check their own send; ask another approver the approval names.",
                        kinds=[Kind.SECOND_CHECK_MISSING])
    if user.role not in ("staff", "admin") or user.login not in check.approvers \
            or user.organisation_id != transfer.sender_organisation_id:
        raise Forbidden("あなたはこの承認の確認者（second_check.approvers）に定められていないため、確認できません。",
                        "you are not one of this approval's approvers (second_check.approvers).",
                        kinds=[Kind.SECOND_CHECK_MISSING])


def _summary(session: Any, check: SecondCheck, transfer: m.Transfer) -> dict[str, Any]:
    """What the checker sees: never a record, only what identifies the hand-over."""
    sender = session.get(m.User, transfer.sender_user_id)
    recipient = session.get(m.Organisation, transfer.recipient_organisation_id)
    manifest = transfer.manifest
    return {
        "transfer": transfer.id, "state": transfer.state, "approval": transfer.approval_id,
        "recipient": {"org": transfer.recipient_organisation_id, "name": recipient.name if recipient else None},
        "profile": transfer.profile_id, "channel": transfer.channel,
        "sender": sender.login if sender else None,
        "record_count": transfer.record_count, "columns": list(manifest.get("columns", [])),
        "removed": dict(manifest.get("removed", {})), "sha256": transfer.plaintext_sha256,
        "reasons": list(check.reasons), "approvers": list(check.approvers),
        "requested_at": timestamp(check.requested_at),
        "decision": check.decision, "decided_by": check.decided_by,
        "decided_at": timestamp(check.decided_at) if check.decided_at else None, "reason": check.reason,
    }


def _evidence(a: Attempt, shown: dict[str, Any], approved: bool, reason: str, at: Any) -> dict[str, Any]:
    return {
        "transfer": shown["transfer"], "decision": "approved" if approved else "rejected",
        "checked_by": {"user": a.user.login, "org": a.user.organisation_id},
        "sender": {"user": shown["sender"]}, "reason": reason, "decided_at": timestamp(at),
        "reasons": shown["reasons"], "approvers": shown["approvers"],
        "shown": {k: shown[k] for k in ("recipient", "approval", "profile", "channel", "record_count", "columns",
                                         "removed", "sha256")},
    }


def _held_secret(gw: Gateway, blobs: BlobStore, check: SecondCheck) -> str:
    assert check.held_secret_blob_id is not None
    out = io.BytesIO()
    with gw.read() as session:
        blobs.copy_to(session, check.held_secret_blob_id, out)
    return out.getvalue().decode("utf-8")


def _forget_secret(blobs: BlobStore, session: Any, row: SecondCheck, at: Any) -> None:
    if row.held_secret_blob_id is not None:
        blobs.crypto_erase(session, row.held_secret_blob_id, at=at)
        blobs.remove_file(row.held_secret_blob_id)
        row.held_secret_blob_id = None


def _approve(a: Attempt, blobs: BlobStore, check: SecondCheck, transfer: m.Transfer, shown: dict[str, Any],
             reason: str, notice_to: Path | None, notice_html: bool) -> Decided:
    from gateway.notices.password_notice import render
    from gateway.notices.password_notice import write as write_notice

    gw = a.gw
    secret = _held_secret(gw, blobs, check)
    at = gw.clock.now()
    notice = _notice(gw, transfer, secret, at)
    if notice_to is not None:
        write_notice(notice, notice_to)
    try:
        with gw.unit() as session:
            row = session.get(m.Transfer, transfer.id, with_for_update=True)
            held = session.get(SecondCheck, transfer.id)
            assert row is not None and held is not None
            if row.state != "pending-check":  # another checker decided meanwhile
                raise Conflict("この送付は既に確認済みです。", "this send was already decided.")
            row.state = next_state(row.state, "check-approve")
            row.updated_at = at
            held.decision, held.decided_by, held.decided_at, held.reason = "approved", a.user.login, at, reason
            _forget_secret(blobs, session, held, at)
            _, document = gw.ledger.record(session, a.event(
                reason=f"second check approved: {reason}", evidence_type="second-check",
                evidence=_evidence(a, shown, True, reason, at)))
    except BaseException:
        if notice_to is not None:
            with contextlib.suppress(FileNotFoundError):
                notice_to.unlink()
        raise
    assert document is not None
    return Decided(transfer.id, True, str(document["id"]), secret, notice_to,
                   render(notice) if notice_html else None)


def _reject(a: Attempt, blobs: BlobStore, check: SecondCheck, transfer: m.Transfer, shown: dict[str, Any],
            reason: str) -> Decided:
    gw = a.gw
    at = gw.clock.now()
    with gw.unit() as session:
        row = session.get(m.Transfer, transfer.id, with_for_update=True)
        held = session.get(SecondCheck, transfer.id)
        assert row is not None and held is not None
        if row.state != "pending-check":
            raise Conflict("この送付は既に確認済みです。", "this send was already decided.")
        held.decision, held.decided_by, held.decided_at, held.reason = "rejected", a.user.login, at, reason
        _forget_secret(blobs, session, held, at)
        _, document = gw.ledger.record(session, a.event(
            reason=f"second check rejected: {reason}", evidence_type="second-check",
            evidence=_evidence(a, shown, False, reason, at)))
        erase_in(gw, blobs, session, row, at, event="check-reject",
                 reason="rejected at the second check: erased at once",
                 entry={"action": "transfer.erase", "channel": a.channel, "actor": a.actor},
                 program="gateway second-check reject")
    assert document is not None
    return Decided(transfer.id, False, str(document["id"]), "", None)


def _notice(gw: Gateway, transfer: m.Transfer, secret: str, at: Any) -> Any:
    from gateway.notices.password_notice import PasswordNotice

    with gw.read() as session:
        approval = get_approval(session, transfer.approval_id)
        profile = get_profile(session, transfer.profile_id)
        recipient = session.get(m.Organisation, transfer.recipient_organisation_id)
        held = session.get(SecondCheck, transfer.id)
        method = held.password_delivery if held is not None else "hand"
    return PasswordNotice(
        notice_id=f"N-{transfer.id}", transfer_id=transfer.id, approval=approval, profile=profile,
        recipient_name=recipient.name if recipient else transfer.recipient_organisation_id,
        record_count=transfer.record_count, plaintext_sha256=transfer.plaintext_sha256, passphrase=secret,
        delivery_method=method, issued_at=at)
