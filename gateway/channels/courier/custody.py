"""Hand-overs of courier items as 確認書 entries, each a signed `custody` evidence document.

A hand-over names the item (media serial or password-notice id), who gives it and who receives
it (person and organisation), when and where, what it holds, how many pieces, and the locked
cabinet it goes into. The receiver's acknowledgement (預り証) is part of the same record. The rules
are in gateway/core/custody.py; this module loads the records, asks them, and writes the event,
its log entry and its evidence in one transaction. A refused attempt writes only its log entry
(operations/attempt.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import timestamp
from gateway.core import custody as rules
from gateway.core.approvals import Approval
from gateway.core.profiles import Profile
from gateway.errors import NotFound, Refusal, Refused
from gateway.findings import Kind
from gateway.operations.accounts import Caller, account, is_designated
from gateway.operations.attempt import Attempt, attempt
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.models_courier import CourierEvent, CourierItem
from gateway.store.registry import get_approval, get_profile

CHANNEL = "courier"  # the desk's entries say so, whichever terminal recorded them
MEDIA_LABELS = {"cdr": "CD-R", "dvd": "DVD-R", "hdd": "外付けHDD"}
SERIAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class Handover:
    """One 確認書 entry as the person recording it writes it."""

    item: str
    to: str  # login of the receiver
    place: str
    quantity: int
    cabinet: str  # the locked cabinet the item goes into
    frm: str | None = None  # login of the giver; the caller by default
    at: datetime | None = None  # when it changed hands; now by default
    means: str = "hand"
    run: str | None = None  # courier run (便) or tracking number
    content: str | None = None
    receipt_no: str | None = None  # number of the receiver's 預り証


@dataclass(frozen=True)
class Recorded:
    item: str
    event: str
    evidence: str
    return_due: datetime | None


def bad(ja: str, en: str, kind: Kind | None = None) -> Refusal:
    return Refusal(kind, ja, en)


@dataclass
class Context:
    """An item with everything the rules need about its transfer."""

    row: CourierItem
    transfer: m.Transfer
    approval: Approval
    profile: Profile
    history: rules.History

    @property
    def item(self) -> rules.Item:
        return self.history.items[self.row.id]

    @property
    def records(self) -> list[rules.Record]:
        return list(self.history.of(self.row.id))


def load_history(session: Session, transfer: m.Transfer) -> rules.History:
    items = {i.id: _item(i, transfer) for i in
             session.scalars(select(CourierItem).where(CourierItem.transfer_id == transfer.id))}
    records: dict[str, list[rules.Record]] = {i: [] for i in items}
    query = select(CourierEvent).join(CourierItem).where(CourierItem.transfer_id == transfer.id) \
        .order_by(CourierEvent.id)
    for e in session.scalars(query):
        records[e.item_id].append(_record(e))
    return rules.History(items, records)


def _item(row: CourierItem, transfer: m.Transfer) -> rules.Item:
    return rules.Item(id=row.id, kind=row.kind, transfer=row.transfer_id, owner_org=transfer.sender_organisation_id,
                      quantity=row.quantity, registered_by=rules.Party(row.registered_user, row.registered_org),
                      registered_at=row.registered_at, cabinet=row.cabinet)


def _party(user: str | None, org: str | None) -> rules.Party | None:
    return None if user is None or org is None else rules.Party(user, org)


def _record(e: CourierEvent) -> rules.Record:
    return rules.Record(item=e.item_id, event=e.event, frm=_party(e.from_user, e.from_org),
                        to=_party(e.to_user, e.to_org), at=e.at, quantity=e.quantity, cabinet=e.cabinet,
                        means=e.means, run=e.run)


def notice_id(transfer_id: str) -> str:
    """The id printed on the transfer's password notice (gateway send --notice)."""
    return f"N-{transfer_id}"


def context(session: Session, item_id: str, *, lock: bool = True, create: bool = True) -> Context:
    """The item and its transfer. A transfer's password notice is registered on first use, as held
    by the person who sent the transfer (the notice is printed when the package is made)."""
    row = session.get(CourierItem, item_id, with_for_update=lock) if item_id else None
    if row is None and create and item_id.startswith("N-"):
        transfer = session.get(m.Transfer, item_id[2:])
        if transfer is not None and transfer.channel == "courier":
            sender = session.get(m.User, transfer.sender_user_id)
            assert sender is not None
            row = CourierItem(id=item_id, kind="notice", transfer_id=transfer.id, media=None, quantity=1,
                              registered_user=sender.login, registered_org=transfer.sender_organisation_id,
                              registered_at=transfer.sent_at)
            session.add(row)
            session.flush()
    if row is None:
        raise NotFound(
            f"媒体・通知書「{item_id}」は登録されていません。媒体のシリアル番号か通知書の番号（N-…）を確認してください。",
            f"no medium or notice '{item_id}' is registered; check the serial number or the notice id (N-...).",
        )
    transfer = session.get(m.Transfer, row.transfer_id)
    assert transfer is not None
    return Context(row, transfer, get_approval(session, transfer.approval_id),
                   get_profile(session, transfer.profile_id), load_history(session, transfer))


def rules_of(ctx: Context) -> rules.Rules:
    media_means = frozenset({"hand"}) if ctx.profile.receiver_kind == "contractor" \
        else frozenset({"hand", "security-courier"})
    notice_means = set(ctx.profile.password_delivery)
    rule = ctx.approval.rule("password-delivery")
    if rule is not None:
        notice_means &= set(rule.value)  # type: ignore[arg-type]
    return rules.Rules(recipient_org=ctx.transfer.recipient_organisation_id, media_means=media_means,
                       notice_means=frozenset(notice_means), return_days=ctx.profile.media_return_days or 30,
                       other_day=ctx.profile.password_on_other_day,
                       media_returned=ctx.approval.retention.media_closure == "return")


def person(session: Session, login: str, what: str) -> m.User:
    user = session.scalar(select(m.User).where(m.User.login == login))
    if user is None or user.disabled:
        raise NotFound(f"{what}「{login}」は登録されていないか、無効です。",
                       f"{'giver' if what == '渡す人' else 'receiver'} '{login}' is not registered or is disabled.")
    return user


def may_touch(approval: Approval, user: m.User) -> Refusal | None:
    """City staff, or a designated handler of the contractor or subcontractor: nobody else."""
    if user.role == "staff":
        return None
    if user.role == "contractor" and is_designated(approval, user):
        return None
    return bad(f"「{user.login}」はこの承認の取扱者名簿に載っていないため、媒体・通知書を扱えません。",
               f"'{user.login}' is not on this approval's list of designated handlers and may not handle its items.",
               Kind.NON_DESIGNATED_HANDLER)


def may_record(ctx: Context, recorder: m.User, *parties: m.User | None) -> Refusal | None:
    """The giver, the receiver, or the sending organisation (the city keeps the 確認書)."""
    if any(p is not None and p.id == recorder.id for p in parties):
        return None
    if recorder.organisation_id == ctx.transfer.sender_organisation_id and may_touch(ctx.approval, recorder) is None:
        return None
    return bad("この確認書は、渡す人・受け取る人・送付元の組織の担当者だけが記録できます。",
               "only the giver, the receiver or the sending organisation can record this hand-over.")


def default_content(ctx: Context) -> str:
    t = ctx.transfer
    if ctx.row.kind == "notice":
        return f"パスワード通知書（{t.id}） / password notice"
    media = MEDIA_LABELS.get(ctx.row.media or "", ctx.row.media or "")
    return f"暗号化データ {media} {ctx.row.quantity}枚（{t.record_count:,}件、{t.id}） / encrypted package"


def party_json(user: m.User | None) -> dict[str, str] | None:
    if user is None:
        return None
    return {"person": user.login, "org": user.organisation_id, "name": user.display_name}


def handover(gw: Gateway, caller: Caller, req: Handover) -> Recorded:
    return record_event(gw, caller, req, "handover")


def record_event(gw: Gateway, caller: Caller, req: Handover, event: str) -> Recorded:
    """Judge and record one hand-over or return; a refused attempt is logged and nothing else."""
    with attempt(gw, caller, f"courier.{event}", channel=CHANNEL) as a, gw.unit() as session:
        return _write(a, session, req, event)


def _write(a: Attempt, session: Session, req: Handover, event: str) -> Recorded:
    gw, caller = a.gw, a.caller
    assert caller is not None
    ctx = context(session, req.item)
    a.approval, a.transfer = ctx.transfer.approval_id, ctx.transfer.id
    recorder = a.user
    giver = person(session, req.frm or caller.login, "渡す人")
    receiver = person(session, req.to, "受け取る人")
    problems = [p for p in (may_touch(ctx.approval, giver), may_touch(ctx.approval, receiver),
                            may_record(ctx, recorder, giver, receiver)) if p is not None]
    if not (req.place or "").strip():
        problems.append(bad("受け渡しの場所を記入してください。", "write where the hand-over took place."))
    now = gw.clock.now()
    change = rules.Attempt(
        item=ctx.item, event=event, frm=rules.Party(giver.login, giver.organisation_id),
        to=rules.Party(receiver.login, receiver.organisation_id), at=req.at or now, quantity=req.quantity,
        cabinet=req.cabinet, means=req.means, run=req.run, now=now)
    judgement = rules.judge(change, rules_of(ctx), ctx.history)
    problems.extend(judgement.refusals)
    if problems:
        raise Refused(problems)
    content = (req.content or "").strip() or default_content(ctx)
    receipt = {"number": req.receipt_no, "acknowledged_by": {"person": receiver.login, "org": receiver.organisation_id},
               "at": timestamp(change.at)}
    evidence = {
        "transfer": ctx.transfer.id,
        "item": ctx.row.id,
        "item_kind": ctx.row.kind,
        "media": ctx.row.media,
        "from": party_json(giver),
        "to": party_json(receiver),
        "at": timestamp(change.at),
        "place": req.place.strip(),
        "content": content,
        "quantity": req.quantity,
        "cabinet": req.cabinet.strip(),
        "event": event,
        "return_due": timestamp(judgement.return_due) if judgement.return_due else None,
        # The contractor's own media (approval: media_closure = "erase") end with the erasure
        # certificate, not a return: no return is due for them.
        "closure": ctx.approval.retention.media_closure if ctx.row.kind == "media" else "return",
        "means": req.means,
        "run": req.run,
        "receipt": receipt,
        "recorded_by": {"user": a.actor.user, "org": a.actor.org},
    }
    return write_event(a, session, ctx, evidence, giver_login=giver.login,
                       giver_org=giver.organisation_id, receiver_login=receiver.login,
                       receiver_org=receiver.organisation_id, at=change.at, due=judgement.return_due,
                       details={"receipt": receipt}, reason=f"{ctx.row.kind} {ctx.row.id} {event} from "
                       f"{giver.login} ({giver.organisation_id}) to {receiver.login} ({receiver.organisation_id})")


def write_event(a: Attempt, session: Session, ctx: Context, evidence: dict[str, Any], *, giver_login: str | None,
                giver_org: str | None, receiver_login: str | None, receiver_org: str | None, at: datetime,
                due: datetime | None, details: dict[str, Any], reason: str) -> Recorded:
    """The log entry with its signed custody document, and the event row that mirrors it."""
    event = str(evidence["event"])
    seq, document = a.gw.ledger.record(session, a.event(
        approval=ctx.transfer.approval_id, transfer=ctx.transfer.id,
        blob_sha256=ctx.transfer.package_sha256 if ctx.row.kind == "media" else None,
        reason=reason, evidence_type="custody", evidence=evidence,
    ))
    assert document is not None
    session.add(CourierEvent(
        item_id=ctx.row.id, event=event, from_user=giver_login, from_org=giver_org, to_user=receiver_login,
        to_org=receiver_org, at=at, place=str(evidence.get("place") or ""), content=str(evidence.get("content") or ""),
        quantity=int(evidence["quantity"]), cabinet=evidence.get("cabinet"), means=evidence.get("means"),
        run=evidence.get("run"), return_due=due, details=details, evidence_id=str(document["id"]), log_seq=seq,
    ))
    session.flush()
    return Recorded(ctx.row.id, event, str(document["id"]), due)


@dataclass(frozen=True)
class ChainEntry:
    event: str
    frm: dict[str, str] | None
    to: dict[str, str] | None
    at: datetime
    place: str
    content: str
    quantity: int
    cabinet: str | None
    means: str | None
    return_due: datetime | None
    evidence: str


@dataclass(frozen=True)
class Chain:
    item: str
    kind: str
    transfer: str
    approval: str
    media: str | None
    quantity: int
    registered: dict[str, Any]
    holder: dict[str, str] | None
    cabinet: str | None
    lost: bool
    entries: tuple[ChainEntry, ...]
    label: dict[str, Any] | None


def chain(gw: Gateway, caller: Caller, item_id: str) -> Chain:
    """The custody chain of one item, for the two organisations it travels between."""
    with attempt(gw, caller, "courier.show", channel=CHANNEL) as a, gw.read() as session:
        user = a.user
        ctx = context(session, item_id, lock=False, create=False)
        if user.organisation_id not in (ctx.transfer.sender_organisation_id, ctx.transfer.recipient_organisation_id) \
                and user.role not in ("security-officer", "admin"):
            raise NotFound(f"媒体・通知書「{item_id}」は見つかりません。", f"no medium or notice '{item_id}'.")
        now = rules.holding(ctx.item, ctx.records)
        rows = session.scalars(select(CourierEvent).where(CourierEvent.item_id == item_id).order_by(CourierEvent.id))
        entries = tuple(ChainEntry(
            e.event, _pj(e.from_user, e.from_org), _pj(e.to_user, e.to_org), e.at, e.place, e.content, e.quantity,
            e.cabinet, e.means, e.return_due, e.evidence_id) for e in rows)
        r = ctx.row
        return Chain(r.id, r.kind, r.transfer_id, ctx.transfer.approval_id, r.media, r.quantity,
                     {"person": r.registered_user, "org": r.registered_org, "at": r.registered_at},
                     _pj(now.holder.person, now.holder.org) if now.holder else None, now.cabinet, now.lost,
                     entries, r.label)


def _pj(user: str | None, org: str | None) -> dict[str, str] | None:
    return None if user is None or org is None else {"person": user, "org": org}


def items_of(gw: Gateway, caller: Caller, transfer: str | None = None) -> list[Chain]:
    with gw.read() as session:
        user = account(session, caller.login)
        query = select(CourierItem.id).join(m.Transfer, m.Transfer.id == CourierItem.transfer_id)
        if transfer is not None:
            query = query.where(CourierItem.transfer_id == transfer)
        if user.role not in ("security-officer", "admin"):
            query = query.where((m.Transfer.sender_organisation_id == user.organisation_id)
                                | (m.Transfer.recipient_organisation_id == user.organisation_id))
        ids = list(session.scalars(query.order_by(CourierItem.registered_at, CourierItem.id)))
    return [chain(gw, caller, i) for i in ids]
