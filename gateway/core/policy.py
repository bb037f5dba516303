"""decide(hand-over) -> allowed, or refused with every reason.

Pure functions over the approval, the transfer profile and what the recipient file holds. Every
channel (portal, SFTP, courier desk, hot folder, CLI) asks this one function, so none can skip a
rule. All reasons are collected, not just the first: staff fix a file once, not once per reason.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from gateway.clock import to_jst
from gateway.core.approvals import Approval
from gateway.core.profiles import CHANNELS, PASSWORD_METHODS, Profile
from gateway.core.records.fields import CONTROL_FIELDS, EXCLUDED_POPULATIONS, header_label
from gateway.errors import Refusal
from gateway.findings import Kind


@dataclass(frozen=True)
class HandOver:
    """What someone asks to hand over, described without the data itself."""

    approval: Approval
    profile: Profile
    sender_org: str
    sender_role: str
    recipient: str  # organisation id of the receiver
    at: datetime
    columns: tuple[str, ...]  # canonical ids of the file's columns, control columns included
    record_count: int  # persons in the file
    excluded: Mapping[str, int] = field(default_factory=dict)  # persons flagged per population
    channel: str | None = None  # the channel actually used; defaults to the profile's
    password_delivery: str | None = None  # how the password notice is to travel, when known


@dataclass(frozen=True)
class Decision:
    refusals: tuple[Refusal, ...]
    remove: frozenset[str]  # excluded populations dropped before sending
    records_to_send: int

    @property
    def allowed(self) -> bool:
        return not self.refusals

    @property
    def kinds(self) -> tuple[Kind, ...]:
        return tuple(dict.fromkeys(r.kind for r in self.refusals if r.kind))


def decide(h: HandOver) -> Decision:
    a, p = h.approval, h.profile
    refusals: list[Refusal] = []
    add = refusals.append

    if not a.permits_anything:
        add(Refusal(
            Kind.UNAPPROVED_TRANSFER,
            f"承認「{a.case_number}」は継続審議中のため、どの受け渡しも認められていません。",
            f"approval '{a.id}' is deferred by the council and permits no hand-over.",
        ))

    channel = h.channel or p.channel
    if p.id not in a.profiles:
        add(Refusal(
            Kind.UNAPPROVED_CHANNEL,
            f"受け渡し方法「{p.title}」は承認「{a.case_number}」で認められていません。認められた方法: {', '.join(a.profiles)}",
            f"transfer profile '{p.id}' is not allowed by approval '{a.id}'; allowed: {', '.join(a.profiles)}",
        ))
    elif channel != p.channel:
        add(Refusal(
            Kind.UNAPPROVED_CHANNEL,
            f"経路「{channel}」は受け渡し方法「{p.title}」の経路（{p.channel}）と異なります。",
            f"channel '{channel}' is not the channel of profile '{p.id}' ({p.channel}).",
        ))

    if h.sender_role not in p.sender_roles:
        add(Refusal(
            None,  # not a council's rule: the profile says who may send at all
            f"役割「{h.sender_role}」はこの方法で送付できません。",
            f"role '{h.sender_role}' may not send with profile '{p.id}'.",
        ))

    refusals.extend(_recipient_refusals(h))

    if not (a.period_start <= h.at < a.period_end):
        add(Refusal(
            Kind.OUTSIDE_PERIOD,
            f"{to_jst(h.at):%Y-%m-%d %H:%M:%S} JST は承認の期間（{to_jst(a.period_start):%Y-%m-%d %H:%M:%S}〜"
            f"{to_jst(a.period_end):%Y-%m-%d %H:%M:%S} JST 未満）の外です。",
            f"{h.at.isoformat()} is outside the approval's period "
            f"[{a.period_start.isoformat()}, {a.period_end.isoformat()}).",
        ))

    unapproved = [c for c in h.columns if c not in a.fields and c not in CONTROL_FIELDS and c not in a.list_keys]
    if unapproved:
        labels = ", ".join(header_label(c) for c in unapproved)
        add(Refusal(
            Kind.UNAPPROVED_FIELD,
            f"承認されていない項目が含まれています: {labels}。これらの列を除いて出力し直してください。",
            f"the file holds columns the approval does not list: {', '.join(unapproved)}; export it without them.",
        ))

    remove: set[str] = set()
    handling = {e.population: e.handling for e in a.excluded}
    for population, count in sorted(h.excluded.items()):
        if count <= 0 or population not in handling:
            continue
        if handling[population] == "remove":
            remove.add(population)
        else:
            label = EXCLUDED_POPULATIONS[population]
            add(Refusal(
                Kind.EXCLUDED_PERSON,
                f"提供してはならない対象者（{label}）が {count} 人含まれています。該当者を除いて出力し直してください。",
                f"the file holds {count} persons of an excluded population ({population}); export it without them.",
            ))
    records_to_send = h.record_count - sum(h.excluded.get(pop, 0) for pop in remove)

    if records_to_send > a.max_records:
        add(Refusal(
            Kind.OVER_RECORD_LIMIT,
            f"件数 {records_to_send:,} 件は承認の上限 {a.max_records:,} 件を超えています。",
            f"{records_to_send} records exceed the approval's upper bound of {a.max_records}.",
        ))

    if h.password_delivery is not None:
        refusal = password_delivery_refusal(a, p, h.password_delivery)
        if refusal is not None:
            add(refusal)

    return Decision(tuple(refusals), frozenset(remove), records_to_send)


def _recipient_refusals(h: HandOver) -> list[Refusal]:
    a, p = h.approval, h.profile
    if p.sender_kind == "city":
        if h.sender_org != a.city.id:
            return [Refusal(
                Kind.UNAPPROVED_TRANSFER,
                f"送付元「{h.sender_org}」はこの承認の実施機関ではありません。",
                f"sender '{h.sender_org}' is not the city this approval was granted to.",
            )]
        if a.recipient(h.recipient) is None:
            return [Refusal(
                Kind.UNAPPROVED_RECIPIENT,
                f"提供先「{h.recipient}」は承認「{a.case_number}」の委託先ではありません。",
                f"recipient '{h.recipient}' is not a contractor of approval '{a.id}'.",
            )]
        return []
    # A contractor relaying to a subcontractor: both ends must be in the approval.
    contractor = a.recipient(h.sender_org)
    if contractor is None:
        return [Refusal(
            Kind.UNAPPROVED_RECIPIENT,
            f"中継元「{h.sender_org}」は承認「{a.case_number}」の委託先ではありません。",
            f"relaying organisation '{h.sender_org}' is not a contractor of approval '{a.id}'.",
        )]
    if h.recipient not in {s.organisation.id for s in contractor.subcontractors}:
        return [Refusal(
            Kind.UNAPPROVED_RECIPIENT,
            f"再委託先「{h.recipient}」は承認「{a.case_number}」で認められていません。",
            f"subcontractor '{h.recipient}' is not approved for '{h.sender_org}' under '{a.id}'.",
        )]
    return []


def password_delivery_refusal(approval: Approval, profile: Profile, method: str) -> Refusal | None:
    """The password notice travels apart from the data, by a way the profile and approval allow."""
    allowed = set(profile.password_delivery)
    rule = approval.rule("password-delivery")
    if rule is not None:
        allowed &= set(rule.value)  # type: ignore[arg-type]
    if method in CHANNELS or method == "with-data" or method not in allowed:
        names = "、".join(PASSWORD_METHODS[m] for m in sorted(allowed))
        return Refusal(
            Kind.PASSWORD_SAME_CHANNEL,
            f"パスワード通知を「{method}」で送ることはできません（データは {profile.channel} 経由）。"
            f"データとは別の経路（{names}）で届けてください。",
            f"the password notice may not travel as '{method}' (the data goes by {profile.channel}); "
            f"use one of: {', '.join(sorted(allowed))}.",
        )
    return None
