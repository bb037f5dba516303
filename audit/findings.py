"""The report's findings (FORMAT.md, "Findings the report derives"), as of the manifest's created_at.

Findings come only from what the bundle proves: refused log entries (prevented), the evidence
documents and approvals (after the fact), and verification failures (log-tampered and
evidence-forged). A document that failed verification is still read, because its members are
what the bundle asserts; its findings say it failed, and the failure is reported on its own.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from audit import attestations, conditions, duties, incidents, safeguards, timefmt
from audit.evidence import Document
from audit.kinds import GATEWAY_FAULT_KINDS, KIND_LABELS, WARNING_KINDS
from audit.trust import Policy
from audit.verify import Verification, verify


def severity_of(kind: str) -> str:
    return "warning" if kind in WARNING_KINDS else "violation"


@dataclass
class Finding:
    kind: str
    prevented: bool
    detail: str
    approval: str | None = None
    transfer: str | None = None
    evidence: list[str] = field(default_factory=list)
    log_seq: int | None = None
    detail_ja: str | None = None   # for the council's report; `detail` stays the technical English

    @property
    def severity(self) -> str:
        return severity_of(self.kind)

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "severity": self.severity, "prevented": self.prevented,
                "approval": self.approval, "transfer": self.transfer, "detail": self.detail,
                "evidence": self.evidence, "log_seq": self.log_seq, "detail_ja": self.detail_ja}


@dataclass
class Report:
    verification: Verification
    findings: list[Finding]
    approvals: list[dict[str, Any]]

    @property
    def unreadable(self) -> str | None:
        v = self.verification
        if v.unreadable is not None:
            return v.unreadable
        if v.manifest is None and not v.log.read:
            return "neither MANIFEST.json nor log/entries.jsonl can be read: this is not an evidence bundle"
        return None

    def to_json(self) -> dict[str, Any]:
        v = self.verification
        counts: dict[str, int] = defaultdict(int)
        for f in self.findings:
            counts["prevented" if f.prevented else f.severity] += 1
        return {**v.to_json(), "findings": [f.to_json() for f in self.findings],
                "summary": dict(counts), "approval_summaries": self.approvals}


def build_report(root: Path, policy: Policy | None = None) -> Report:
    v = verify(root, policy)
    try:
        findings = derive(v)
        approvals = summarise(v, findings)
    except Exception as exc:  # noqa: BLE001 - a report with a named failure beats a traceback
        v.failures.add("bundle", ".", None, f"internal error while deriving findings: {type(exc).__name__}: {exc}")
        findings, approvals = _from_failures(v), []
    return Report(v, findings, approvals)


def _from_failures(v: Verification) -> list[Finding]:
    out = []
    for f in v.failures:
        kind = f.kind if f.kind in ("log-tampered", "log-unwitnessed") else "evidence-forged"
        place = f"{f.file}:{f.where}" if f.where else f.file
        ja = {"log-tampered": f"アクセスログの連鎖・順序・チェックポイントが整合しません（{place}）。",
              "log-unwitnessed": "信頼ポリシーが求める数のウィットネスが連署したチェックポイントに含まれない"
                                 "ログがあります（事後の書換えを第三者が検知できない範囲）。",
              }.get(kind, f"証跡の署名・ハッシュ・相互参照が整合しません（{place}）。")
        out.append(Finding(kind, False, f.line(), f.approval, f.transfer, detail_ja=ja))
    return out


def _t(value: Any) -> datetime | None:
    return timefmt.parse(value)


def _note(doc: Document) -> str:
    return "" if doc.trusted else " (this document itself failed verification)"


def derive(v: Verification) -> list[Finding]:
    findings = _from_failures(v)
    for entry in sorted(v.log.notable.values(), key=lambda e: e.seq):
        if entry.outcome == "refused":
            for kind in entry.kinds:
                if kind in GATEWAY_FAULT_KINDS:
                    findings.append(_gateway_fault(kind, entry))
                    continue
                findings.append(Finding(kind, True, f"log entry {entry.seq} ({entry.action}) refused: "
                                                    f"{entry.reason or 'no reason given'}",
                                        entry.approval, entry.transfer, [], entry.seq,
                                        f"ゲートウェイが操作を拒否しました（ログ {entry.seq}、{entry.action}）。"))
    now = v.created_at
    by_type: dict[str, list[Document]] = defaultdict(list)
    for doc in sorted(v.documents.values(), key=lambda d: (d.log_seq, d.id)):
        by_type[doc.type].append(doc)
    related: dict[str, dict[str, list[Document]]] = defaultdict(lambda: defaultdict(list))
    for doc in v.documents.values():
        if doc.transfer is not None:
            related[doc.transfer][doc.type].append(doc)

    firsts = _first_transfers(by_type["transfer"], related)
    for t in by_type["transfer"]:
        docs = related[t.get("transfer")]
        for detail, ja, others in safeguards.missing_checks(t, docs):
            findings.append(Finding("second-check-missing", False, detail + _note(t), t.approval, t.transfer,
                                    [t.id, *(o.id for o in others)], t.log_seq, ja))
        if safeguards.released(t, docs):  # held and never released, or recalled undelivered: nothing owed
            findings += _receipt_findings(t, docs["receipt"], now)
            findings += _deletion_findings(t, docs["erasure-certificate"], now, _deletion_due(t, v, docs),
                                           _places(t, v))
        findings += _retention_findings(t, docs["gateway-erasure"], now)
        findings += _approval_findings(t, v, firsts)
    findings += _custody_findings(by_type["custody"], now, _returns_after_delivery(by_type["delivery"], v))
    findings += _duty_findings(v, now)
    findings += [Finding(kind, False, detail + _note(doc), doc.approval, doc.transfer, [doc.id], doc.log_seq, ja)
                 for kind, doc, detail, ja in incidents.findings(by_type["incident"], now)]
    for doc, detail, ja in attestations.out_of_order(v.documents, v.attestations):
        findings.append(Finding("attestation-out-of-order", False, detail + _note(doc), doc.approval, doc.transfer,
                                [doc.id], doc.log_seq, ja))
    return findings


def _duty_findings(v: Verification, now: datetime | None) -> list[Finding]:
    """Each slot of a contract duty (立入調査 every fiscal year, 研修実施報告 every half year, a
    pledge per handler, ...) with no trusted `duty-record` meeting it by its due date."""
    out = []
    documents = list(v.documents.values())
    for approval_id, a in sorted(v.approvals.items()):
        for s in duties.ledger(approval_id, a.raw, documents, now):
            if s["state"] != "overdue":
                continue
            who = f" for {s['handler']}" if s["handler"] else ""
            due = timefmt.jst(timefmt.parse(s["due"])) + " JST"
            out.append(Finding("compliance-overdue", False,
                               f"duty {s['duty']} ({s['kind']}), {s['slot']}{who}: no record by {due}",
                               approval_id, None, [], None,
                               f"契約上の義務「{s['duty']}」（{s['slot']}{who}）が期限（{due}）までに記録されていません。"))
    return out


def _gateway_fault(kind: str, entry: Any) -> Finding:
    who = entry.actor_user or "the system"
    return Finding(kind, False, f"log entry {entry.seq} ({entry.action}): the gateway could not produce the copy it "
                                f"kept (missing or corrupted although its key existed): a failure of the gateway, "
                                f"not of {who}, who only asked for it; {entry.reason or 'no detail given'}",
                   entry.approval, entry.transfer, [], entry.seq,
                   f"ゲートウェイが保管していたデータが消失又は破損していました（ログ {entry.seq}、{entry.action}）。"
                   "ゲートウェイ側の障害であり、取得しようとした利用者の違反ではありません。")


_JA = {
    "receipt-mismatch": "受託事業者が確認した件数又はチェックサムが送付時の内容と一致しません。",
    "receipt-missing": "受領確認の期限（{due}）までに受領確認がありません。",
    "deletion-overdue": "消去期限（{due}）までに消去証明書が提出されていません。",
    "gateway-retention-overrun": "ゲートウェイ上のデータが保管期限（{due}）を過ぎても消去されていませんでした。",
    "media-not-returned": "媒体 {item} が返却期限（{due}）までに返却されていません。",
    "custody-gap": "媒体等 {item} の受渡記録（確認書）が連続していません（保管者の不一致、時刻の逆転又は紛失）。",
    "unapproved-transfer": "承認の範囲外の受渡しです（承認なし・継続審議、期間・方法・提供先の範囲外）。",
}


def _f(kind: str, doc: Document, detail: str, *others: Document, due: Any = None) -> Finding:
    ja = _JA[kind].format(due=_when(due), item=doc.get("item", ""))
    if not doc.trusted:
        ja += "（この証跡文書自体が検証に失敗しています）"
    return Finding(kind, False, detail + _note(doc), doc.approval, doc.transfer,
                   [doc.id, *(o.id for o in others)], doc.log_seq, ja)


def _when(value: Any) -> str:
    at = timefmt.parse(value)
    return f"{timefmt.jst(at)} JST" if at is not None else "—"


def _receipt_findings(t: Document, receipts: list[Document], now: datetime | None) -> list[Finding]:
    out = []
    manifest = t.get("manifest")
    for r in receipts:
        problems = []
        if r.get("matches") is False:
            problems.append("the contractor reported a mismatch (matches: false)")
        if r.get("record_count") != manifest["record_count"]:
            problems.append(f"confirmed {r.get('record_count')} records, the manifest has {manifest['record_count']}")
        if r.get("sha256") != manifest["sha256"]:
            problems.append("confirmed a checksum that differs from the manifest's SHA-256")
        if problems:
            out.append(_f("receipt-mismatch", r, "; ".join(problems), t))
    due = _t(t.get("receipt_due"))
    if due is not None and now is not None and due < now:
        if not any(r.issued_at <= due for r in receipts):
            late = min((r.issued_at for r in receipts), default=None)
            out.append(_f("receipt-missing", t, f"no receipt by the receipt deadline {t.get('receipt_due')}"
                          + (f" (the first came at {timefmt.jst(late)} JST)" if late else ""), due=t.get("receipt_due")))
    return out


def _deletion_due(t: Document, v: Verification, docs: dict[str, list[Document]]) -> datetime | None:
    """The contractor's erasure deadline, derived again from the approval in the bundle where it
    says what the deadline counts from: the records' fiscal year the transfer names (Komae), or
    each completed 納品 (Shinjuku NHI). The earliest of those, the transfer's own and a recall's
    urgent one applies."""
    dues = [_t(safeguards.deletion_due(t, docs))]
    approval = v.approvals.get(t.approval) if t.approval is not None else None
    retention = approval.retention if approval is not None else None
    base = t.get("deletion_base")
    if retention is not None and isinstance(base, dict):
        dues.append(retention.record_year_due(base.get("record_fiscal_year")))
    term = approval.subcontracts.get(t.get("recipient", {}).get("org")) if approval is not None else None
    if term is not None and term[2] is not None:  # a subcontractor's copy: due on its own term (seed 003)
        dues.append(term[1] + timedelta(days=term[2]))
    for d in _completed(docs["delivery"]):
        if retention is not None:
            dues.append(retention.after_delivery(_t(d.get("at")))[0])  # type: ignore[arg-type]
        else:  # the approval is not in the bundle: what the delivery record says
            dues.append(_t(d.get("deletion_due")))
    return min((d for d in dues if d is not None), default=None)


def _completed(deliveries: list[Document]) -> list[Document]:
    return [d for d in deliveries if d.get("complete") is True and _t(d.get("at")) is not None]


def _returns_after_delivery(deliveries: list[Document], v: Verification) -> dict[str, datetime]:
    """Per transfer: when its media must be back after its completed 納品 (seed 004)."""
    out: dict[str, datetime] = {}
    for d in _completed(deliveries):
        approval = v.approvals.get(d.approval) if d.approval is not None else None
        at = _t(d.get("at"))
        assert at is not None  # _completed keeps only those with a time
        due = approval.retention.after_delivery(at)[1] \
            if approval is not None and approval.retention is not None else _t(d.get("return_due"))
        transfer = d.get("transfer")
        if due is not None and isinstance(transfer, str):
            out[transfer] = min(due, out.get(transfer, due))
    return out


def _places(t: Document, v: Verification) -> Any:
    approval = v.approvals.get(t.approval) if t.approval is not None else None
    return approval.retention if approval is not None and approval.retention is not None \
        and approval.retention.erasure_locations else None


def _deletion_findings(t: Document, certificates: list[Document], now: datetime | None,
                       due: datetime | None, places: Any = None) -> list[Finding]:
    """No certificate by the deadline; where the approval names several places of erasure (Kurume
    GIS), the certificates by then must together name every one of them."""
    if due is None or now is None or due >= now:
        return []
    in_time = [c for c in certificates if c.issued_at <= due]
    if places is not None:
        missing = places.uncovered([c.get("media_serial_or_location") for c in in_time])
        if not missing:
            return []
        when = timefmt.jst(due) + " JST"
        return [_f("deletion-overdue", t, f"no erasure certificate for {', '.join(missing)} by the deletion "
                   f"deadline {when}", due=due.isoformat())]
    if in_time:
        return []
    late = min((c.issued_at for c in certificates), default=None)
    when = timefmt.jst(due) + " JST"
    return [_f("deletion-overdue", t, f"no erasure certificate by the deletion deadline {when}"
               + (f" (one came at {timefmt.jst(late)} JST)" if late else ""), due=due.isoformat())]


def _retention_findings(t: Document, erasures: list[Document], now: datetime | None) -> list[Finding]:
    due = _t(t.get("gateway_erase_due"))
    if due is None:
        return []
    erased = [(_t(e.get("erased_at")), e) for e in erasures]
    erased = [(at, e) for at, e in erased if at is not None]
    if erased:
        at, e = min(erased, key=lambda x: x[0])  # type: ignore[arg-type,return-value]
        if at > due:  # type: ignore[operator]
            return [_f("gateway-retention-overrun", t, f"the gateway erased its copy at {e.get('erased_at')},"
                                                       f" after its retention deadline {t.get('gateway_erase_due')}", e,
                       due=t.get("gateway_erase_due"))]
        return []
    if now is not None and due < now:
        return [_f("gateway-retention-overrun", t, f"no gateway erasure although the retention deadline"
                                                   f" {t.get('gateway_erase_due')} has passed", due=t.get("gateway_erase_due"))]
    return []


def _first_transfers(transfers: list[Document], related: dict[str, dict[str, list[Document]]]) -> dict[tuple[str, str], str]:
    """The first transfer under each approval by each profile, as the gateway counts it for a
    profile allowed for the first hand-over only: a send its second check rejected never left."""
    firsts: dict[tuple[str, str], str] = {}
    for t in sorted(transfers, key=lambda d: (_t(d.get("sent_at")) or d.issued_at, d.log_seq)):
        if t.approval is None or any(c.get("decision") == "rejected" for c in related[t.get("transfer")]["second-check"]):
            continue
        firsts.setdefault((t.approval, str(t.get("profile"))), str(t.get("transfer")))
    return firsts


def _approval_findings(t: Document, v: Verification, firsts: dict[tuple[str, str], str]) -> list[Finding]:
    approval = v.approvals.get(t.approval) if t.approval is not None else None
    if t.approval is None:
        later = [d.approval for d in v.documents.values()
                 if d.type == "regularisation" and d.transfer == t.transfer and d.approval]
        return [_f("unapproved-transfer", t, "the transfer names no approval"
                   + (f" (regularised afterwards by {', '.join(sorted(later))})" if later else ""))]
    if approval is None:
        return [_f("unapproved-transfer", t, f"approval {t.approval!r} is not in the bundle")]
    problems = []
    if approval.decision == "deferred":
        problems.append("the council deferred this approval (審議継続): it permits nothing")
    elif approval.decision not in ("approved", "approved-with-conditions"):
        problems.append(f"the approval's decision is {approval.decision!r}, not approved")
    sent = _t(t.get("sent_at"))
    if sent is not None and not approval.covers(sent):
        problems.append(f"sent at {timefmt.jst(sent)} JST, outside the approved period {approval.period_text}")
    profile_id, channel = t.get("profile"), t.get("channel")
    if profile_id not in approval.profiles:
        problems.append(f"profile {profile_id!r} is not one the approval allows ({', '.join(approval.profiles)})")
    first = firsts.get((approval.id, str(profile_id)))
    if profile_id in approval.first_transfer_only and first is not None and first != t.get("transfer"):
        problems.append(f"profile {profile_id!r} is allowed for the approval's first transfer only, which was {first}")
    profile = v.profiles.get(profile_id)
    allowed = {v.profiles[p].channel for p in approval.profiles if p in v.profiles}
    if profile is not None and profile.channel != channel:
        problems.append(f"channel {channel!r} is not the channel of profile {profile_id!r} ({profile.channel!r})")
    elif allowed and channel not in allowed:
        problems.append(f"channel {channel!r} is not one the approval allows")
    recipient = t.get("recipient", {}).get("org")
    term = approval.subcontracts.get(recipient)
    if term is not None and sent is not None and not term[0] <= sent < term[1]:
        problems.append(f"relayed at {timefmt.jst(sent)} JST, outside the subcontract's term"
                        f" ({timefmt.jst(term[0])} to {timefmt.jst(term[1])} JST)")
    if recipient not in approval.recipients:
        problems.append(f"recipient {recipient!r} is neither an approved recipient nor an approved subcontractor")
    if not problems:
        return []
    return [_f("unapproved-transfer", t, "; ".join(problems))]


def _party(value: Any) -> tuple[Any, Any] | None:
    if not isinstance(value, dict):
        return None
    return value.get("person"), value.get("org")


def _who(party: tuple[Any, Any] | None) -> str:
    return "nobody" if party is None else f"{party[0]} ({party[1]})"


def _custody_findings(events: Iterable[Document], now: datetime | None,
                      returns_by: dict[str, datetime] | None = None) -> list[Finding]:
    out: list[Finding] = []
    by_item: dict[str, list[Document]] = defaultdict(list)
    for e in events:
        by_item[e.get("item")].append(e)
    for item, chain in by_item.items():
        chain.sort(key=lambda d: (d.log_seq, d.id))
        holder: tuple[Any, Any] | None = None
        previous: Document | None = None
        lost = False
        for e in chain:
            at = _t(e.get("at"))
            frm = _party(e.get("from"))
            if e.get("event") == "lost":
                lost = True
                out.append(_f("custody-gap", e, f"{e.get('item_kind')} {item} was reported lost at {e.get('at')}"))
            elif previous is not None and holder is not None and frm != holder:
                out.append(_f("custody-gap", e, f"{e.get('event')} of {item} from {_who(frm)}, but after the previous"
                                               f" record it was held by {_who(holder)}", previous))
            if previous is not None:
                prev_at = _t(previous.get("at"))
                if at is not None and prev_at is not None and at < prev_at:
                    out.append(_f("custody-gap", e, f"record of {item} at {e.get('at')} is earlier than the previous"
                                                   f" one ({previous.get('at')})", previous))
            holder = _party(e.get("to"))
            previous = e
        if lost:
            continue  # a lost item is one finding (custody-gap), not also a missing return
        for e in chain:
            if e.get("item_kind") != "media" or e.get("event") != "handover":
                continue
            due = _t(e.get("return_due"))
            after_delivery = (returns_by or {}).get(e.get("transfer"))
            if after_delivery is not None:
                due = after_delivery if due is None else min(due, after_delivery)
            if due is None:
                continue
            handed = _t(e.get("at"))
            returned = [r for r in chain if r.get("event") == "return" and r.log_seq > e.log_seq
                        and (_t(r.get("at")) or due) <= due and (handed is None or (_t(r.get("at")) or due) >= handed)]
            if returned:
                continue
            if now is not None and due < now:
                out.append(_f("media-not-returned", e, f"media {item} handed over at {e.get('at')} was not returned"
                                                      f" by {timefmt.jst(due)} JST", due=due.isoformat()))
    return out


def summarise(v: Verification, findings: list[Finding]) -> list[dict[str, Any]]:
    """Per approval: what was handed over, confirmed and erased, and what went wrong."""
    related: dict[str, dict[str, list[Document]]] = defaultdict(lambda: defaultdict(list))
    for doc in sorted(v.documents.values(), key=lambda d: d.log_seq):
        if doc.transfer is not None:
            related[doc.transfer][doc.type].append(doc)
    ids = sorted(set(v.approvals) | {d.approval for d in v.documents.values() if d.approval is not None})
    out = []
    for approval_id in ids:
        a = v.approvals.get(approval_id)
        transfers = [d for d in sorted(v.documents.values(), key=lambda d: d.log_seq)
                     if d.type == "transfer" and d.approval == approval_id]
        mine = [f for f in findings if f.approval == approval_id]
        out.append({
            "id": approval_id,
            "in_bundle": a is not None,
            "title": a.title if a else None,
            "case_number": a.case_number if a else None,
            "department": a.department if a else None,
            "council": a.council if a else None,
            "decision": a.decision if a else None,
            "period": a.period_text if a else None,
            "profiles": a.profiles if a else [],
            "recipients": sorted(a.recipients) if a else [],
            "conditions": conditions.statuses(a.conditions, approval_id, list(v.documents.values())) if a else [],
            "duties": duties.ledger(approval_id, a.raw, list(v.documents.values()), v.created_at) if a else [],
            "transfers": [_transfer_summary(t, related[t.get("transfer")], v) for t in transfers],
            "recalls": [{"transfer": t.get("transfer"), **r} for t in transfers
                        for r in safeguards.recalls(related[t.get("transfer")])],
            "incidents": incidents.summaries(v.documents.values(), approval_id),
            "regularises": [{"transfer": d.get("transfer"), "note": d.get("note"), "evidence": d.id,
                             "verified": d.trusted} for d in sorted(v.documents.values(), key=lambda d: d.log_seq)
                            if d.type == "regularisation" and d.approval == approval_id],
            "records": sum(t.get("manifest")["record_count"] for t in transfers),
            "findings": {"violation": sum(1 for f in mine if f.severity == "violation" and not f.prevented),
                         "warning": sum(1 for f in mine if f.severity == "warning" and not f.prevented),
                         "prevented": sum(1 for f in mine if f.prevented)},
        })
    return out


def _brief(doc: Document, *members: str, v: Verification | None = None) -> dict[str, Any]:
    out = {"evidence": doc.id, "issued_at": doc.body.get("issued_at"), "verified": doc.trusted,
           **{m: doc.body.get(m) for m in members}}
    attested = v.attestations.by_evidence.get(doc.id) if v is not None else None
    if attested is not None:  # receipts, deletion requests and certificates: how strongly the party's own
        out["attested"] = attested.to_json()
    return out


def _formulas(v: Any) -> dict[str, Any] | None:
    """How the package treated cells that start a spreadsheet formula, as its manifest says;
    None when the manifest does not say (sent before the gateway recorded it) or says it oddly."""
    if type(v) is not dict or type(v.get("neutralised")) is not bool or type(v.get("cells")) is not int:
        return None
    columns = v.get("columns")
    return {"neutralised": v["neutralised"], "cells": v["cells"],
            "columns": columns if type(columns) is dict else {}}


def _transfer_summary(t: Document, docs: dict[str, list[Document]], v: Verification | None = None) -> dict[str, Any]:
    manifest = t.get("manifest")
    return {
        "transfer": t.get("transfer"), "evidence": t.id, "verified": t.trusted, "profile": t.get("profile"),
        "channel": t.get("channel"), "sender": t.get("sender"), "recipient": t.get("recipient"),
        "parent_transfer": t.get("parent_transfer"), "record_count": manifest["record_count"],
        "sha256": manifest["sha256"], "formulas": _formulas(manifest.get("formulas")),
        "sent_at": t.get("sent_at"), "receipt_due": t.get("receipt_due"),
        "gateway_erase_due": t.get("gateway_erase_due"), "contractor_deletion_due": t.get("contractor_deletion_due"),
        "deletion_base": t.get("deletion_base"),
        "password_notices": [_brief(d, "method", "dispatched_at") for d in docs["password-notice"]],
        "receipts": [_brief(d, "confirmed_by", "record_count", "matches", v=v) for d in docs["receipt"]],
        "gateway_erasures": [_brief(d, "erased_at", "method") for d in docs["gateway-erasure"]],
        "deletion_requests": [_brief(d, "planned_date", "method", v=v) for d in docs["deletion-request"]],
        "erasure_certificates": [_brief(d, "erased_at", "method", "sanitised_by", "media_serial_or_location", "covers",
                                        "addressed_to", v=v)
                                 for d in docs["erasure-certificate"]],
        "deliverable_declarations": [_brief(d, "name", "sha256", "size", v=v)
                                     for d in docs["deliverable-declaration"]],
        "custody": [_brief(d, "item", "item_kind", "event", "from", "to", "at", "return_due")
                    for d in docs["custody"]],
        "erasure_acknowledgements": [_brief(d, "deletion", "accepted", "acknowledged_by", "acknowledged_at")
                                     for d in docs["erasure-acknowledgement"]],
        "deliveries": [_brief(d, "from", "to", "at", "place", "content", "quantity", "complete", "deletion_due",
                              "return_due") for d in docs["delivery"]],
        "second_check": safeguards.summary(t, docs),
        "recalls": safeguards.recalls(docs),
    }
