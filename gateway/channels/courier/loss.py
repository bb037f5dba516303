"""`courier lost`: the incident report for a lost medium or password notice.

The contracts (seeds 000, 002) require an incident to be reported at once with its content, the
number of records, the place and the circumstances. The report is a `custody` evidence document
with event `lost` (the auditor's `custody-gap`: the chain ends there), carrying the incident and
the assessment: the media held an encrypted package, and where its counterpart was at the time.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.channels.courier.custody import (
    CHANNEL,
    Recorded,
    bad,
    context,
    default_content,
    load_history,
    may_touch,
    notice_id,
    party_json,
    write_event,
)
from gateway.clock import timestamp
from gateway.core import custody as rules
from gateway.errors import Refused
from gateway.operations.accounts import Caller
from gateway.operations.attempt import attempt
from gateway.service import Gateway
from gateway.store import models as m


@dataclass(frozen=True)
class Loss:
    item: str
    place: str  # where it was lost, as far as known
    circumstances: str  # what happened
    at: datetime | None = None  # when it was lost or found missing; now by default


def report_loss(gw: Gateway, caller: Caller, loss: Loss) -> tuple[Recorded, rules.LossAssessment]:
    with attempt(gw, caller, "courier.lost", channel=CHANNEL) as a:
        with gw.unit() as session:
            ctx = context(session, loss.item)
            a.approval, a.transfer = ctx.transfer.approval_id, ctx.transfer.id
            reporter = a.user
            held = rules.holding(ctx.item, ctx.records)
            now = gw.clock.now()
            at = loss.at or now

            problems = []
            if not loss.place.strip() or not loss.circumstances.strip():
                problems.append(bad("紛失の場所と状況を記入してください。", "write the place and the circumstances of the loss."))
            orgs = {ctx.transfer.sender_organisation_id, held.holder.org if held.holder else None}
            if reporter.organisation_id not in orgs or may_touch(ctx.approval, reporter) is not None:
                problems.append(bad("紛失は、保管していた組織か送付元の組織の担当者が報告します。",
                                    "the loss is reported by the organisation that held the item or the one that sent it."))
            # Same replay checks as any event: not lost twice, not before the last record, not in the future.
            judgement = rules.judge(rules.Attempt(
                item=ctx.item, event="lost", frm=held.holder, to=None, at=at, quantity=ctx.item.quantity,
                cabinet=held.cabinet, means=None, run=None, now=now), rules_stub(), ctx.history)
            problems.extend(judgement.refusals)
            if problems:
                raise Refused(problems)
            if ctx.row.kind == "media":
                # The printed notice exists from sending on, even if it never moved: say where it was.
                context(session, notice_id(ctx.transfer.id), lock=False)
                ctx.history = load_history(session, ctx.transfer)
            assessment = rules.assess_loss(ctx.item, at, ctx.history, held)
            holder = session.get(m.User, _user_id(session, held.holder)) if held.holder else None
            incident = {
                "content": default_content(ctx),
                "record_count": ctx.transfer.record_count,
                "place": loss.place.strip(),
                "circumstances": loss.circumstances.strip(),
                "lost_at": timestamp(at),
                "reported_at": timestamp(now),
                "reported_by": {"user": reporter.login, "org": reporter.organisation_id},
                "assessment": assessment.to_dict(),
            }
            evidence = {
                "transfer": ctx.transfer.id, "item": ctx.row.id, "item_kind": ctx.row.kind, "media": ctx.row.media,
                "from": party_json(holder), "to": None, "at": timestamp(at), "place": loss.place.strip(),
                "content": incident["content"], "quantity": ctx.row.quantity, "cabinet": held.cabinet,
                "event": "lost", "return_due": None, "incident": incident,
                "recorded_by": {"user": a.actor.user, "org": a.actor.org},
            }
            recorded = write_event(
                a, session, ctx, evidence,
                giver_login=held.holder.person if held.holder else None,
                giver_org=held.holder.org if held.holder else None, receiver_login=None, receiver_org=None,
                at=at, due=None, details={"incident": incident},
                reason=f"{ctx.row.kind} {ctx.row.id} reported lost ({ctx.transfer.record_count} records, encrypted; "
                       f"{assessment.summary_en})")
            return recorded, assessment


def rules_stub() -> rules.Rules:
    """A loss is judged only by the replay checks, which need no transfer rules."""
    return rules.Rules(recipient_org="", media_means=frozenset(), notice_means=frozenset(), return_days=1)


def _user_id(session: Session, party: rules.Party) -> int | None:
    return session.scalar(select(m.User.id).where(m.User.login == party.person))
