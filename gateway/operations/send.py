"""Sending: a recipient file becomes an encrypted package for one recipient under one approval.

One streaming pass validates the file and writes its minimised copy (approved columns only,
excluded persons removed), encrypted as it is written, into the private work area as the payload
of an age package under a fresh passphrase (no plaintext copy is ever written); the policy
decides on what the pass saw; the package (header, then that payload) is stored encrypted at
rest. The transfer row, its log entry and its signed evidence are written in one transaction. A
refusal writes only its log entry.
"""
from __future__ import annotations

import contextlib
import io
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, cast

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.clock import timestamp, to_jst
from gateway.core import second_check
from gateway.core.approvals import Approval
from gateway.core.deadlines import deadlines, fiscal_year, record_year_erasure
from gateway.core.policy import Decision, HandOver, decide
from gateway.core.profiles import CHANNELS, Profile
from gateway.core.records.keyed_lists import Matcher, missing_key_fields
from gateway.core.records.manifest import Manifest
from gateway.core.records.reader import minimise, read_header
from gateway.core.records.streams import Prefixed
from gateway.crypto import age, passphrase
from gateway.crypto.background import Background
from gateway.crypto.sealed import SealedFile
from gateway.errors import Conflict, Invalid, Refusal, Refused
from gateway.findings import Kind
from gateway.ledger.log import Actor, lock_head
from gateway.notices.password_notice import PasswordNotice
from gateway.notices.password_notice import write as write_notice
from gateway.operations import downloads, workarea
from gateway.operations.accounts import Caller, is_designated
from gateway.operations.attempt import Attempt, attempt
from gateway.operations.exclusion_lists import lists_for
from gateway.operations.opaque_payload import read_opaque
from gateway.service import Gateway
from gateway.store import faultpoints
from gateway.store import models as m
from gateway.store.models_limits import DownloadLimit
from gateway.store.models_second_check import SecondCheck
from gateway.store.registry import get_approval, get_profile

ACTION = "transfer.send"


@dataclass(frozen=True)
class SendRequest:
    file: Path | SealedFile  # a portal upload is sealed: it is read back decrypting (crypto/sealed.py)
    approval: str
    profile: str
    recipient: str
    password_delivery: str
    parent_transfer: str | None = None  # a contractor relaying a package it received
    source_key: str | None = None  # makes a retried send idempotent (see models.Transfer)
    # Where to write the password notice. It is written before the transfer commits (and removed
    # if the commit fails), so no package can exist whose passphrase no one was ever shown.
    notice_to: Path | None = None
    # The fiscal year (年度) of the records, where the approval counts retention from it (Komae 002).
    record_fiscal_year: int | None = None
    # The sender asks for a second person's check although no rule requires one.
    second_check: bool = False
    # The sender limits complete downloads further than the approval and the city do.
    max_downloads: int | None = None


@dataclass(frozen=True)
class Sent:
    transfer: str
    passphrase: str  # shown once, for the password notice; never stored
    source: Manifest
    sent: Manifest
    package_sha256: str
    evidence: str
    # Waiting for a second person's check: no passphrase and no notice until it is approved.
    held: bool = False

    def __repr__(self) -> str:
        return f"Sent(transfer={self.transfer!r})"


class AlreadySent(Conflict):
    """The same source was sent before: a retry after a crash, not a second hand-over."""

    def __init__(self, transfer: str) -> None:
        super().__init__(f"このファイルは既に送付済みです（{transfer}）。",
                         f"this file was already sent as {transfer}.")
        self.transfer = transfer


def sent_as(gw: Gateway, source_key: str) -> str | None:
    with gw.read() as session:
        return session.scalar(select(m.Transfer.id).where(m.Transfer.source_key == source_key))


def send(gw: Gateway, caller: Caller, req: SendRequest) -> Sent:
    with attempt(gw, caller, ACTION) as a:
        if req.source_key is not None and (earlier := sent_as(gw, req.source_key)) is not None:
            raise AlreadySent(earlier)
        # A send killed after writing its notice left a notice for a transfer that never existed
        # (a passphrase that opens nothing): it goes now, so that the retry can write its own.
        workarea.recover(gw)
        if req.notice_to is not None and req.notice_to.exists():
            raise Conflict(f"{req.notice_to} は既に存在します。通知書は上書きしません。",
                           f"{req.notice_to} exists; a notice is never overwritten.")
        with gw.read() as session:
            approval = get_approval(session, req.approval)
            profile = get_profile(session, req.profile)
            recipient = session.get(m.Organisation, req.recipient)
            recipient_name = recipient.name if recipient is not None else req.recipient
        a.approval = approval.id
        _check_record_year(approval, req.record_fiscal_year, gw.clock.now())
        return _send(a, req, approval, profile, recipient_name)


def _check_record_year(approval: Approval, year: int | None, at: datetime) -> None:
    """Where retention counts from the records' fiscal year, the sender must name it, and it must
    be a year whose data may still be held: not a future year, not one already due for erasure."""
    r = approval.retention
    if r.base != "record-fiscal-year":
        if year is not None:
            raise Invalid("この承認の保管期限は記録の年度から数えません。--record-fiscal-year は指定できません。",
                          f"approval '{approval.id}' does not count retention from the records' fiscal year; "
                          "omit --record-fiscal-year.")
        return
    assert r.contractor_keep_years is not None and r.rollover_month is not None
    if year is None:
        raise Invalid("この承認では記録の属する年度から消去期限を数えます。--record-fiscal-year（例: 2015）で"
                      "記録の年度を指定してください。",
                      f"approval '{approval.id}' counts the erasure deadline from the records' fiscal year; "
                      "name it with --record-fiscal-year (e.g. 2015).")
    current = fiscal_year(at, r.rollover_month)
    if year > current:
        raise Invalid(f"記録の年度 {year} は現在の年度（{current}）より後です。年度を確認してください。",
                      f"the records' fiscal year {year} is after the current one ({current}); check it.")
    due = record_year_erasure(r.contractor_keep_years, r.rollover_month, year)
    if due <= at:
        raise Invalid(f"{year} 年度の記録は {due:%Y-%m-%d} に抹消されるべきもので、もう提供できません。",
                      f"records of fiscal year {year} were due for erasure on {due:%Y-%m-%d}; "
                      "they may no longer be handed over.")


def _send(a: Attempt, req: SendRequest, approval: Approval, profile: Profile, recipient_name: str) -> Sent:
    gw, user, caller = a.gw, a.user, a.caller
    assert caller is not None
    at = gw.clock.now()
    work = workarea.work_dir(gw)
    # The pid in the name lets a later process remove what a killed one left behind.
    token = f"{os.getpid()}.{secrets.token_hex(8)}"
    # The minimised file is encrypted as it is written: the work area holds only the package's
    # payload (ciphertext), never a plaintext copy, and no second pass reads the file back.
    # `plain` only names the minimised file in its manifest.
    plain, payload = work / f"{token}.csv", work / f"{token}.payload"
    file_key = age.new_file_key()
    remove = {e.population for e in approval.excluded if e.handling == "remove"}
    # The package's scrypt derivation (about a second at work factor 18) and the passphrase's
    # argon2 verifier need only the fresh passphrase: they run on another core while the pass
    # below validates and minimises, instead of after it. A refusal discards them unused.
    secret = passphrase.generate()
    age_recipient = age.ScryptRecipient(secret, gw.settings.scrypt.work_factor).derive_ahead()
    verifier = Background(passphrase.make_verifier, secret)
    try:
        if approval.payload == "opaque":
            with _work_file(payload) as raw:
                body = age.PayloadWriter(file_key, raw)
                source = sent = read_opaque(req.file, approval, cast(BinaryIO, body))
                body.finish()
        else:
            # An approval bounds what may go; a file with fewer of its columns is fine.
            max_line = gw.settings.records.max_line_bytes
            present = read_header(req.file, max_line=max_line).columns
            fields = [f for f in approval.fields if f in present]
            screening = lists_for(gw, approval)
            if screening is not None and (absent := missing_key_fields(screening[1], present)):
                raise Invalid(f"別に管理する除外リストと照合する番号の列（{', '.join(absent)}）がファイルにありません。",
                              f"the file lacks the number column(s) the exclusion lists are matched by: "
                              f"{', '.join(absent)}.")
            listed = (lambda columns, s=screening: Matcher(s[0], s[1], columns)) if screening else None
            with _work_file(payload) as raw:
                body = age.PayloadWriter(file_key, raw)
                source, sent = minimise(req.file, plain, fields=fields, remove=remove, sink=cast(BinaryIO, body),
                                        max_line=max_line, neutralise_formulas=approval.neutralise_formulas,
                                        listed=listed)
                body.finish()
        faultpoints.reached("send:after-payload")
        decision = decide(HandOver(
            approval=approval, profile=profile, sender_org=user.organisation_id, sender_role=user.role,
            recipient=req.recipient, at=at, columns=source.columns, record_count=source.record_count,
            excluded=dict(source.excluded),
            # The CLI and the hot folder are ways in for staff, not data channels: the profile's applies.
            channel=caller.channel if caller.channel in CHANNELS else None,
            password_delivery=req.password_delivery,
        ))
        if user.role == "contractor":  # a relay: only a designated handler, only what they received
            decision = Decision(decision.refusals + _relay_refusals(gw, user, approval, req), decision.remove,
                                decision.records_to_send)
        if not decision.allowed:
            raise Refused(decision.refusals)
        check = _check_reasons(gw, approval, sent, req)
        _first_transfer_only(gw, approval, profile)
        limit = downloads.limit_for(approval, profile, gw.settings.downloads, req.max_downloads)
        header = age.header(file_key, [age_recipient])  # waits for what is left of the derivation
        pending = _Pending(f"T{at:%Y%m%d}-{uuid.uuid4().hex[:10]}", at, req, approval, profile, user, a.actor,
                           source, sent, decision, secret, verifier.result(), header, payload, check, limit)
        # A held send writes no notice: its passphrase waits, sealed, for the check (second_check.py).
        notice_to = req.notice_to if not check else None
        marker = workarea.PendingNotice(gw, notice_to, pending.transfer_id) if notice_to else None
        if notice_to is not None:
            faultpoints.reached("send:before-notice")
            write_notice(PasswordNotice(
                notice_id=f"N-{pending.transfer_id}", transfer_id=pending.transfer_id, approval=approval,
                profile=profile, recipient_name=recipient_name, record_count=sent.record_count,
                plaintext_sha256=sent.sha256, passphrase=secret, delivery_method=req.password_delivery,
                issued_at=at,
            ), notice_to)
            faultpoints.reached("send:after-notice")
        try:
            package_sha256, evidence = _store(a, pending)
        except BaseException as err:
            if notice_to is not None:
                _discard(notice_to)
            if marker is not None:
                marker.settle()
            if isinstance(err, IntegrityError) and req.source_key is not None \
                    and (earlier := sent_as(gw, req.source_key)) is not None:
                # Another process sent the same source between our check and our commit.
                raise AlreadySent(earlier) from None
            raise
        faultpoints.reached("send:after-commit")
        if marker is not None:
            marker.settle()
        if check:
            return Sent(pending.transfer_id, "", source, sent, package_sha256, evidence, held=True)
        return Sent(pending.transfer_id, secret, source, sent, package_sha256, evidence)
    finally:
        _discard(payload)


@dataclass(frozen=True)
class _Pending:
    """An allowed, encrypted hand-over about to be stored."""

    transfer_id: str
    at: datetime
    req: SendRequest
    approval: Approval
    profile: Profile
    user: m.User
    who: Actor
    source: Manifest
    sent: Manifest
    decision: Decision
    secret: str
    verifier: str  # argon2id of secret
    header: bytes  # the package is header + payload
    payload: Path
    check: list[str]  # why it waits for a second person; empty: it does not
    limit: tuple[int, int] | None  # (complete downloads, retries of broken ones) it allows


def _first_transfer_only(gw: Gateway, approval: Approval, profile: Profile, session: Session | None = None) -> None:
    """A profile the approval allows for the first hand-over only (Kurume's VPN line for the
    set-up) is refused once any transfer under the approval went that way. Asked early, before
    the work of a send, and again in the transaction that records it (`session`), under the
    log's head lock: two sends at the same instant cannot both be the first."""
    if profile.id not in approval.first_transfer_only:
        return
    if session is None:
        with gw.read() as reading:
            earlier = _earlier_over(reading, approval, profile)
    else:
        lock_head(session)  # every send's transaction takes it to append its entry: taken first here
        earlier = _earlier_over(session, approval, profile)
    if earlier is not None:
        raise Refused.one(
            Kind.UNAPPROVED_CHANNEL,
            f"承認は「{profile.title}」を最初の受け渡し（{earlier}）にだけ認めています。以後は他の方法で送ってください。",
            f"the approval allows profile '{profile.id}' for the first hand-over only ({earlier}); "
            "send later ones another way.")


def _earlier_over(session: Session, approval: Approval, profile: Profile) -> str | None:
    return session.scalar(select(m.Transfer.id).where(
        m.Transfer.approval_id == approval.id, m.Transfer.profile_id == profile.id,
        m.Transfer.state != "rejected").limit(1))


def _check_reasons(gw: Gateway, approval: Approval, sent: Manifest, req: SendRequest) -> list[str]:
    rule = gw.settings.second_check
    reasons = second_check.required(approval.second_check, second_check.city_rule(
        bool(rule.always), rule.above_records, bool(rule.bank_accounts)), sent.record_count, sent.columns,
        req.second_check)
    if reasons and not approval.second_check.approvers:
        raise Conflict("この送付には二重確認が必要ですが、承認に確認者（second_check.approvers）が定められていません。"
                       "承認の登録内容を確認してください。",
                       "this send needs a second person's check, but the approval names no approvers "
                       "(second_check.approvers); check the approval's registration.")
    return reasons


def _store(a: Attempt, p: _Pending) -> tuple[str, str]:
    """The package, the transfer row, its log entry and evidence, in one transaction.

    The slow parts come first, outside it: the argon2id verifier (computed while the file was
    minimised, see `send`) and the at-rest encryption of the package with its fsync. The
    transaction then holds SQLite's write lock only for a few inserts and the log entry: held
    across that work, 16 sends at once queued past the 10 s busy timeout (issue 5). If the
    transaction fails, `staged` removes the blob file again."""
    gw = a.gw
    due = deadlines(p.approval, p.profile, p.at, p.req.record_fiscal_year, p.req.recipient)
    blobs = gw.blobs()
    with p.payload.open("rb") as body, \
            blobs.staged(Prefixed(p.header, body), at=p.at) as blob, gw.unit() as session:  # type: ignore[arg-type]
        _first_transfer_only(gw, p.approval, p.profile, session)
        session.add(blob)
        session.add(m.Transfer(
            id=p.transfer_id, approval_id=p.approval.id, profile_id=p.profile.id, channel=p.profile.channel,
            sender_user_id=p.user.id, sender_organisation_id=p.user.organisation_id,
            recipient_organisation_id=p.req.recipient, parent_transfer_id=p.req.parent_transfer,
            state="pending-check" if p.check else "sent",
            record_count=p.sent.record_count, plaintext_sha256=p.sent.sha256, manifest=p.sent.to_dict(),
            package_blob_id=blob.id, package_sha256=blob.sha256,
            passphrase_verifier=p.verifier, sent_at=p.at,
            receipt_due=due.receipt_due, gateway_erase_due=due.gateway_erase_due,
            contractor_deletion_due=due.contractor_deletion_due, source_key=p.req.source_key, updated_at=p.at,
        ))
        session.flush()
        if p.limit is not None:
            session.add(DownloadLimit(transfer_id=p.transfer_id, max_complete=p.limit[0], retries=p.limit[1]))
        if p.check:
            held = blobs.put(session, io.BytesIO(p.secret.encode("utf-8")), at=p.at)
            session.add(SecondCheck(transfer_id=p.transfer_id, reasons=list(p.check),
                                    approvers=list(p.approval.second_check.approvers),
                                    held_secret_blob_id=held.id, password_delivery=p.req.password_delivery,
                                    requested_at=p.at))
        flagged = {pop for pop in p.decision.remove
                   if p.source.excluded.get(pop, 0) > p.source.listed.get(pop, 0)}
        if flagged:
            # The file held persons the approval keeps away from the contractor: they were
            # stopped here, which is a prevented violation even though the rest goes ahead.
            gw.ledger.record(session, a.event(
                action="transfer.screen", transfer=p.transfer_id, outcome="refused",
                kinds=(Kind.EXCLUDED_PERSON,), reason=_removed_reason(p.decision, p.source),
            ))
        if p.source.listed:
            # Persons on a list the city keeps apart: screening them out is the designed step.
            # Only counts are logged, never a number from the list.
            counts = ", ".join(f"{pop}: {n}" for pop, n in sorted(p.source.listed.items()))
            gw.ledger.record(session, a.event(
                action="transfer.screen", transfer=p.transfer_id,
                reason=f"persons on the city's separately held exclusion lists removed before sending ({counts})",
            ))
        _, document = gw.ledger.record(session, a.event(
            transfer=p.transfer_id, blob_sha256=blob.sha256,
            evidence_type="transfer",
            evidence={
                "transfer": p.transfer_id,
                "profile": p.profile.id,
                "channel": p.profile.channel,
                "sender": {"user": p.user.login, "org": p.user.organisation_id},
                "recipient": {"org": p.req.recipient},
                "parent_transfer": p.req.parent_transfer,
                "manifest": {
                    "record_count": p.sent.record_count,
                    "columns": list(p.sent.columns),
                    "sha256": p.sent.sha256,
                    "size_bytes": p.sent.size_bytes,
                    "removed": dict(p.sent.removed),
                    "source_sha256": p.source.sha256,
                    "source_record_count": p.source.record_count,
                    "formulas": p.sent.formulas_dict(),
                    **({"payload": {"media_type": p.sent.media_type, "unit": p.sent.unit}} if p.sent.media_type else {}),
                },
                "package_sha256": blob.sha256,
                "sent_at": timestamp(p.at),
                "receipt_due": timestamp(due.receipt_due),
                "gateway_erase_due": timestamp(due.gateway_erase_due),
                "contractor_deletion_due": timestamp(due.contractor_deletion_due)
                if due.contractor_deletion_due else None,
                # What the deletion deadline counts from, so the auditor can derive it again.
                "deletion_base": {"base": p.approval.retention.base,
                                  "record_fiscal_year": p.req.record_fiscal_year},
                # Only when it waits: a document without the member was released as it was sent.
                **({"downloads": {"max_complete": p.limit[0], "retries": p.limit[1]}} if p.limit else {}),
                **({"second_check": {"required": True, "reasons": list(p.check),
                                     "approvers": list(p.approval.second_check.approvers)}} if p.check else {}),
            },
        ))
        assert document is not None
        faultpoints.reached("send:before-commit")  # the package file written, its row not yet committed
        return blob.sha256, str(document["id"])


def _relay_refusals(gw: Gateway, user: m.User, approval: Approval, req: SendRequest) -> tuple[Refusal, ...]:
    """A contractor relays only as a designated handler, and only a package addressed to its
    organisation under this approval that it has confirmed receiving."""
    out = []
    if not is_designated(approval, user):
        out.append(Refusal(Kind.NON_DESIGNATED_HANDLER, "あなたはこの承認の取扱者名簿に載っていないため、中継送付できません。",
                           f"'{user.login}' is not a designated handler of approval '{approval.id}' and may not relay."))
    with gw.read() as session:
        parent = session.get(m.Transfer, req.parent_transfer) if req.parent_transfer else None
        ok = parent is not None and parent.recipient_organisation_id == user.organisation_id \
            and parent.approval_id == approval.id and parent.received_at is not None
    term = approval.subcontract_of(req.recipient)
    at = gw.clock.now()
    if term is not None and not term.start <= at < term.end:
        out.append(Refusal(Kind.OUTSIDE_PERIOD,
                           f"再委託の期間（{to_jst(term.start):%Y-%m-%d} から {to_jst(term.end):%Y-%m-%d} の前まで）の外です。",
                           f"outside the subcontract's term ({term.start.isoformat()} to {term.end.isoformat()})."))
    if not ok:
        out.append(Refusal(Kind.UNAPPROVED_TRANSFER,
                           "中継元の受け渡し（--relay-of）には、この承認で自組織宛てに受領確認済みのものを指定してください。",
                           "a relay must name (--relay-of) a transfer under this approval that your organisation "
                           "received and confirmed."))
    return tuple(out)


def _removed_reason(decision: Decision, source: Manifest) -> str:
    counts = ", ".join(f"{p}: {source.excluded.get(p, 0)}" for p in sorted(decision.remove))
    return f"persons of excluded populations removed before sending ({counts})"


def _work_file(path: Path) -> BinaryIO:
    """A new owner-only file in the work area. Not fsynced: it is gone before the send returns,
    and a crash leaves it to workarea.recover."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    return open(fd, "wb", buffering=1 << 20)


def _discard(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
