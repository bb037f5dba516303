"""When a receipt is due, when the gateway must erase its copy, and when the contractor must
certify erasure: pure functions of the approval, the profile and the time of sending.

They are written into the transfer's evidence at send time, so the auditor judges each
hand-over against the deadlines that applied to it, not against today's configuration.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from gateway.clock import JST
from gateway.core.approvals import Approval
from gateway.core.profiles import Profile


@dataclass(frozen=True)
class Deadlines:
    receipt_due: datetime
    gateway_erase_due: datetime
    contractor_deletion_due: datetime | None


def deadlines(approval: Approval, profile: Profile, sent_at: datetime,
              record_fiscal_year: int | None = None, recipient: str | None = None) -> Deadlines:
    receipt_due = sent_at + timedelta(hours=profile.receipt_window_hours)
    # The approval's window counts from receipt; at send time the latest receipt is the receipt
    # deadline, so that bounds the gateway's copy. The profile's own window is never exceeded.
    windows = [sent_at + timedelta(days=profile.gateway_retention_days)]
    if approval.retention.gateway_days is not None:
        counted_from = sent_at if approval.retention.gateway_days_from == "send" else receipt_due
        windows.append(counted_from + timedelta(days=approval.retention.gateway_days))
    if approval.retention.gateway_until_period_end:
        windows.append(max(approval.period_end, sent_at))
    term = approval.subcontract_of(recipient) if recipient is not None else None
    if term is not None and term.deletion_days is not None:
        # A subcontractor's copy is due on its own term, not the contract's (seed 003).
        return Deadlines(receipt_due, min(windows), term.end + timedelta(days=term.deletion_days))
    return Deadlines(receipt_due, min(windows), contractor_deletion_due(approval, record_fiscal_year))


def fiscal_year(at: datetime, rollover_month: int = 4) -> int:
    """The fiscal year (年度) an instant falls in: Japanese years begin on 1 April (JST)."""
    local = at.astimezone(JST)
    return local.year if local.month >= rollover_month else local.year - 1


def record_year_erasure(keep_years: int, rollover_month: int, record_fiscal_year: int) -> datetime:
    """Komae (seed 002): 「当該基点から7年後の4月1日に…抹消処理を行う」 with the worked example
    「平成27年4月1日の課税賦課事務情報は，平成33年4月1日付けで抹消される」 (FY2015 → 2021-04-01).
    The example counts the base point itself as the first roll-over, so the data go at the N-th
    roll-over counting the record's own fiscal year's first day as the first: FY + N - 1."""
    return datetime(record_fiscal_year + keep_years - 1, rollover_month, 1, tzinfo=JST)


def contractor_deletion_due(approval: Approval, record_fiscal_year: int | None = None) -> datetime | None:
    r = approval.retention
    if r.base == "record-fiscal-year":
        if record_fiscal_year is None or r.contractor_keep_years is None or r.rollover_month is None:
            return None
        return record_year_erasure(r.contractor_keep_years, r.rollover_month, record_fiscal_year)
    if r.contractor_deletion_days is not None:
        return approval.period_end + timedelta(days=r.contractor_deletion_days)
    if r.contractor_keep_years is not None and r.rollover_month is not None:
        # "Kept N years, deleted at the April roll-over": the first roll-over month on or after
        # N years from the end of the period, at its first day (JST).
        end = approval.period_end.astimezone(JST)
        year = end.year + r.contractor_keep_years
        if (end.month, end.day, end.time()) > (r.rollover_month, 1, time(0)):
            year += 1
        return datetime(year, r.rollover_month, 1, tzinfo=JST)
    return None


@dataclass(frozen=True)
class AfterDelivery:
    deletion_due: datetime | None
    return_due: datetime | None


def after_delivery(approval: Approval, delivered_at: datetime) -> AfterDelivery:
    """Shinjuku NHI (seed 004): erasure and the return of media and notice fall due after each
    completed 納品 of the printed notices, counted from the delivery the 確認書 records."""
    r = approval.retention
    return AfterDelivery(
        delivered_at + timedelta(days=r.deletion_after_delivery_days) if r.deletion_after_delivery_days is not None
        else None,
        delivered_at + timedelta(days=r.return_after_delivery_days) if r.return_after_delivery_days is not None
        else None,
    )
