"""Fault injection: each finding kind, made to happen at a sensible point of a scenario.

The kinds the gateway prevents are attempted by the person who would attempt them, and the step
must be refused with that kind. The after-the-fact kinds are caused by the party who would cause
them: a contractor that confirms a wrong checksum or never confirms, never certifies erasure, a
retention scheduler that stops, an outside hand-over a security officer finds, a bundle edited
after export, a witness that goes down.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.core.profiles import load_profiles
from gateway.errors import Invalid
from gateway.findings import PREVENTED, Kind
from gateway.operations.accounts import add_user
from gateway.simulate.run import Run
from gateway.simulate.scenario import Step
from gateway.store.registry import get_approval

# Every finding kind can be injected, prevented ones first (the order fault-matrix prints them in).
KINDS = tuple(sorted(Kind, key=lambda k: k not in PREVENTED))

Tamper = Callable[[Path], None]


def inject(run: Run, steps: list[Step], kinds: list[str]) -> tuple[list[Step], dict[str, Tamper]]:
    """The scenario's steps with the faults woven in, and the edits to make to the exported bundle."""
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise Invalid(f"不明な障害の種類です: {', '.join(unknown)}", f"unknown fault kinds: {', '.join(unknown)}")
    main = next(s for s in steps if s.action == "send")
    with run.gw.unit() as session:
        approval = get_approval(session, main.get("approval"))
    ctx = _Context(run, steps, main, approval)
    tamper: dict[str, Tamper] = {}
    # A stopped scheduler's late sweep goes in first, so that an access attempted after erasure
    # comes after that sweep.
    for kind in sorted(kinds, key=lambda k: k != "gateway-retention-overrun"):
        result = _INJECTORS[kind](ctx)
        if result is not None:
            tamper[kind] = result
    return ctx.steps, tamper


def earliest(scenario: Any, kinds: list[str]) -> datetime:
    """When the rehearsal's home must start: the scenario's start, or for an outside-period fault
    the day before the main approval's period, when that attempt is made (the log's times never go
    back, so the home cannot be set up after it)."""
    start: datetime = scenario.start
    if "outside-period" in kinds:
        from gateway.core.approvals import load_approval
        from gateway.data import approvals_dir

        main = next(s for s in scenario.steps if s.action == "send")
        approval = load_approval(approvals_dir() / f"{main.get('approval')}.toml")
        start = min(start, approval.period_start - timedelta(days=1))
    return start


class _Context:
    def __init__(self, run: Run, steps: list[Step], main: Step, approval: Any) -> None:
        self.run, self.steps, self.main, self.approval = run, steps, main, approval

    def attempt(self, action: str, kind: str, **params: Any) -> Step:
        return Step(action, timedelta(minutes=1), {**params, "expect": f"refused:{kind}"})

    def after_main(self, step: Step) -> None:
        self.steps.insert(self.steps.index(self.main) + 1, step)

    def before_export(self, step: Step) -> None:
        self.steps.insert(len(self.steps) - 1, step)

    def main_send(self, **changes: Any) -> dict[str, Any]:
        return {k: self.main.get(k) for k in ("approval", "profile", "recipient", "notice")} | changes

    def later_send(self, **changes: Any) -> dict[str, Any]:
        """The main send's parameters for another hand-over that must go through: over a profile the
        approval allows again (Kurume's VPN line is for the set-up only: later ones go by LGWAN-ASP)."""
        again = self.main_send(**changes)
        if again["profile"] in self.approval.first_transfer_only:
            again["profile"] = next(p for p in self.approval.profiles if p not in self.approval.first_transfer_only
                                    and load_profiles()[p].sender_kind == "city")
        return again

    def replace_step(self, old: Step, new: Step) -> None:
        self.steps[self.steps.index(old)] = new

    def drop(self, step: Step) -> None:
        """The step does not happen, but its time still passes (later steps count from it)."""
        self.replace_step(step, Step("wait", step.after, {k: v for k, v in step.params.items() if k == "at"}))

    def of_leaf(self, action: str) -> Step:
        """The `action` step of the last transfer nothing is relayed from: faulting its receipt or
        erasure leaves every other hand-over of the scenario as it was."""
        relayed = {s.get("transfer") for s in self.steps if s.action == "relay"}
        ids = [s.get("id") for s in self.steps if s.action in ("send", "relay") and not s.get("expect")]
        for transfer in reversed([i for i in ids if i not in relayed]):
            found = next((s for s in self.steps if s.action == action and s.get("transfer") == transfer), None)
            if found is not None:
                return found
        raise Invalid(f"このシナリオには {action} の手順がないため、この障害を入れられません。",
                           f"this scenario has no '{action}' step to fault.")

    def user(self, login: str, org: str, role: str, name: str) -> str:
        with self.run.gw.unit() as session:
            from sqlalchemy import select

            from gateway.store import models as m

            if session.scalar(select(m.User).where(m.User.login == login)) is None:
                add_user(session, login=login, name=name, org=org, role=role, at=self.run.gw.clock.now())
        return login


def _unapproved_field(c: _Context) -> None:
    c.after_main(c.attempt("send", "unapproved-field", **c.main_send(file="extra-column")))


def _excluded_person(c: _Context) -> None:
    if not c.approval.excluded:
        raise Invalid("このシナリオの承認は除外対象を定めていないため、excluded-person を入れられません。",
                           "this scenario's approval excludes no population, so excluded-person cannot be injected.")
    # The city's export forgets to filter: the gateway stops those persons (handled in simulate()).


def _outside_period(c: _Context) -> None:
    first = c.steps[0]
    too_early = c.approval.period_start - timedelta(days=1)
    c.run.clock.set(min(c.run.clock.now(), too_early))
    c.steps[0] = replace(first, params={**first.params, "at": c.run.scenario.start.isoformat()})
    if first is c.main:
        c.main = c.steps[0]
    c.steps.insert(0, Step("send", timedelta(0), {**c.main_send(), "expect": "refused:outside-period"}))


def _unapproved_recipient(c: _Context) -> None:
    c.after_main(c.attempt("send", "unapproved-recipient", **c.main_send(recipient="unlisted-print-shop")))


def _unapproved_channel(c: _Context) -> None:
    other = next(p for p in sorted(load_profiles()) if p not in c.approval.profiles
                 and load_profiles()[p].sender_kind == "city")
    c.after_main(c.attempt("send", "unapproved-channel", **c.main_send(profile=other)))
    if c.main.get("profile") in c.approval.first_transfer_only:
        # A profile the approval allows for the first hand-over only (Kurume's VPN for the set-up),
        # used again after it.
        c.after_main(c.attempt("send", "unapproved-channel", **c.main_send()))


def _over_record_limit(c: _Context) -> None:
    c.after_main(c.attempt("send", "over-record-limit", **c.main_send(file=f"rows:{c.approval.max_records + 1}")))


def _non_designated_handler(c: _Context) -> None:
    outsider = c.user("fault.outsider", c.main.get("recipient"), "contractor", "名簿外 担当")
    c.after_main(c.attempt("download", "non-designated-handler", transfer=c.main.get("id"), **{"as": outsider}))


def _password_same_channel(c: _Context) -> None:
    channel = load_profiles()[c.main.get("profile")].channel
    c.after_main(c.attempt("notice", "password-same-channel", transfer=c.main.get("id"), method=channel))


def _access_after_deletion(c: _Context) -> None:
    attempt = c.attempt("download", "access-after-deletion", transfer=c.main.get("id"))
    export_at = c.steps[-1].get("at")
    if export_at:  # an hour before the export, when every copy is past its window
        attempt = replace(attempt, params={**attempt.params,
                                           "at": (datetime.fromisoformat(export_at) - timedelta(hours=1)).isoformat()})
    c.before_export(attempt)


def _attestation_out_of_order(c: _Context) -> None:
    """The contractor signs a receipt dated before it could have received the package; the gateway
    refuses it, and the contractor then files the receipt it should have."""
    confirm = c.of_leaf("confirm")
    early = Step("confirm", timedelta(0), {**confirm.params, "dated_before_download": True,
                                           "expect": "refused:attestation-out-of-order"})
    c.steps.insert(c.steps.index(confirm), early)


def _receipt_mismatch(c: _Context) -> None:
    confirm = c.of_leaf("confirm")
    c.replace_step(confirm, replace(confirm, params={**confirm.params, "wrong_checksum": True}))


def _receipt_missing(c: _Context) -> None:
    confirm = c.of_leaf("confirm")
    c.replace_step(confirm, replace(confirm, params={**confirm.params, "skip_receipt": True}))


def _deletion_overdue(c: _Context) -> None:
    c.drop(c.of_leaf("delete"))


def _retention_overrun(c: _Context) -> None:
    c.run.sweeping = False  # the scheduler is down; someone runs a sweep by hand, too late
    c.before_export(Step("sweep", timedelta(hours=1), {}))


def _unapproved_transfer(c: _Context) -> None:
    officer = c.user("fault.officer", c.approval.city.id, "security-officer", "監査 担当")
    c.before_export(Step("declare", timedelta(hours=1), {
        "as": officer, "sender": c.approval.city.id, "recipient": "cloud-ocr-service",
        "description": "担当課がクラウドサービスに住民データを承認なく預けていたことが判明", "records": 1200,
    }))


def _second_check_missing(c: _Context) -> None:
    """The sender holds a send for a second person's check; the contractor's handler tries to
    download it before anyone checked it. It stays held, and the sweep erases it in time."""
    held = "held-for-check"
    c.after_main(c.attempt("download", "second-check-missing", transfer=held))
    c.after_main(Step("send", timedelta(minutes=1), {**c.later_send(), "id": held, "second_check": True}))


def _download_over_limit(c: _Context) -> None:
    """The sender allows one complete download of the main hand-over; the handler downloads it
    again afterwards (a second copy), and is refused."""
    main = c.main
    c.main = replace(main, params={**main.params, "max_downloads": 1})
    c.replace_step(main, c.main)
    first = next((s for s in c.steps if s.action == "download" and s.get("transfer") == c.main.get("id")
                  and not s.get("expect")), None)
    if first is None:
        raise Invalid("このシナリオには主な受け渡しのダウンロードがないため、この障害を入れられません。",
                      "this scenario never downloads its main hand-over, so this fault cannot be injected.")
    c.steps.insert(c.steps.index(first) + 1, c.attempt("download", "download-over-limit", transfer=c.main.get("id")))


def _instruction_overdue(c: _Context) -> None:
    """The contractor reports an incident in time; the city instructs it with a deadline a day
    later; the contractor never says it was done."""
    handler = _responsible(c)
    c.after_main(Step("incident", timedelta(hours=2), {
        "do": "instruct", "id": "fault-instructed", "due": "1d", "instruction": "誤送信先に削除を依頼し、結果を報告すること"}))
    c.after_main(Step("incident", timedelta(minutes=30), {
        "do": "report", "id": "fault-instructed", "transfer": c.main.get("id"), "as": handler,
        "content": "作業端末からの誤送信", "records": 12, "place": "受託者 作業室", "circumstances": "メールの宛先誤り"}))


def _incident_unreported(c: _Context) -> None:
    """The city learns of an incident at its contractor and asks for its report within a day;
    no report comes."""
    c.after_main(Step("incident", timedelta(hours=1), {
        "do": "record", "id": "fault-unreported", "transfer": c.main.get("id"), "due": "1d",
        "content": "受託者の作業室で宛名データの印刷物が放置されていた", "records": 40, "place": "受託者 作業室",
        "circumstances": "市職員の立入検査で発見"}))


def _responsible(c: _Context) -> str:
    return next(h.login for h in c.approval.handlers_of(c.main.get("recipient")) if h.role == "responsible")


def _log_tampered(c: _Context) -> Tamper:
    def edit(bundle: Path) -> None:
        path = bundle / "log" / "entries.jsonl"
        lines = path.read_text(encoding="utf-8").split("\n")
        entry = json.loads(lines[1])
        entry["reason"] = "edited after export"
        lines[1] = json.dumps(entry, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        path.write_text("\n".join(lines), encoding="utf-8")
    return edit


def _evidence_forged(c: _Context) -> Tamper:
    def edit(bundle: Path) -> None:
        path = next(p for p in sorted((bundle / "evidence").glob("transfer-*.json")))
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc["sender"]["user"] = "someone-else"  # a field no other rule reads: only the forgery shows
        path.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":"), sort_keys=True), encoding="utf-8")
    return edit


def _integrity_failure(c: _Context) -> None:
    """The gateway's disk damages a package before its handler downloads it; the download is
    refused (the gateway's failure, logged: a broken download, one retry used, not the one complete
    download the package allows); the administrator restores the file from a backup and the
    handler's download goes through."""
    sends = [s for s in c.steps if s.action == "send" and not s.get("expect")
             and load_profiles()[s.get("profile")].channel != "courier"]
    for send in sends:
        first = next((s for s in c.steps if s.action == "download" and s.get("transfer") == send.get("id")
                      and not s.get("expect")), None)
        if first is not None:
            break
    else:
        raise Invalid("このシナリオにはゲートウェイから受け取る受け渡しがないため、この障害を入れられません。",
                      "this scenario has no hand-over downloaded from the gateway, so this fault cannot be injected.")
    at = c.steps.index(first)
    transfer = send.get("id")
    c.steps[at:at] = [
        Step("blob", timedelta(minutes=1), {"transfer": transfer, "do": "corrupt"}),
        c.attempt("download", "integrity-failure", transfer=transfer),
        Step("blob", timedelta(minutes=1), {"transfer": transfer, "do": "restore"}),
    ]


def _log_unwitnessed(c: _Context) -> None:
    """The witness goes down before the last entries (the export's own): the final checkpoint
    is cosigned by nobody, while the earlier, witnessed ones stay as they were."""
    c.before_export(Step("witness-down", timedelta(minutes=1), {}))


def _compliance_overdue(c: _Context) -> None:
    """The city never records the duty the scenario records (an on-site inspection, a report): the
    ledger's slot passes its due date unmet."""
    found = next((s for s in c.steps if s.action == "duty"), None)
    if found is None:
        raise Invalid("このシナリオには契約上の義務（duty）の手順がないため、その未履行を起こせません。",
                      f"scenario '{c.run.scenario.name}' records no contract duty: there is none to miss.")
    c.drop(found)


def _courier_step(c: _Context, do: str, item: str = "media") -> Step:
    found = next((s for s in c.steps if s.action == "courier" and s.get("do") == do
                  and s.get("item", "media") == item and not s.get("expect")), None)
    if found is None:
        raise Invalid("このシナリオには媒体の受け渡しがないため、この障害を入れられません。",
                           "this scenario hands over no courier media, so this fault cannot be injected.")
    return found


def _password_same_day(c: _Context) -> None:
    media_handover = _courier_step(c, "handover")
    c.steps.insert(c.steps.index(media_handover) + 1, Step("courier", timedelta(hours=1), {
        **media_handover.params, "item": "notice", "run": "同じ便", "expect": "refused:password-same-day"}))


def _media_not_returned(c: _Context) -> None:
    c.drop(_courier_step(c, "return"))


def _custody_gap(c: _Context) -> None:
    returned = _courier_step(c, "return")
    c.replace_step(returned, replace(returned, params={**returned.params, "do": "lost"}))


def _brute_force(c: _Context) -> None:
    """Someone guesses at a handler's SFTP login until the source is locked."""
    c.after_main(Step("logins", timedelta(minutes=5), {"transfer": c.main.get("id"), "attempts": 10}))


_INJECTORS: dict[str, Callable[[_Context], Tamper | None]] = {
    "unapproved-field": _unapproved_field,
    "excluded-person": _excluded_person,
    "outside-period": _outside_period,
    "unapproved-recipient": _unapproved_recipient,
    "unapproved-channel": _unapproved_channel,
    "over-record-limit": _over_record_limit,
    "non-designated-handler": _non_designated_handler,
    "password-same-channel": _password_same_channel,
    "password-same-day": _password_same_day,
    "brute-force": _brute_force,
    "access-after-deletion": _access_after_deletion,
    "attestation-out-of-order": _attestation_out_of_order,
    "second-check-missing": _second_check_missing,
    "download-over-limit": _download_over_limit,
    "instruction-overdue": _instruction_overdue,
    "incident-unreported": _incident_unreported,
    "receipt-mismatch": _receipt_mismatch,
    "receipt-missing": _receipt_missing,
    "deletion-overdue": _deletion_overdue,
    "gateway-retention-overrun": _retention_overrun,
    "media-not-returned": _media_not_returned,
    "custody-gap": _custody_gap,
    "unapproved-transfer": _unapproved_transfer,
    "log-tampered": _log_tampered,
    "evidence-forged": _evidence_forged,
    "integrity-failure": _integrity_failure,
    "log-unwitnessed": _log_unwitnessed,
    "compliance-overdue": _compliance_overdue,
}
