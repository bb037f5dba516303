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


def deadlines(approval: Approval, profile: Profile, sent_at: datetime) -> Deadlines:
    receipt_due = sent_at + timedelta(hours=profile.receipt_window_hours)
    # The approval's window counts from receipt; at send time the latest receipt is the receipt
    # deadline, so that bounds the gateway's copy. The profile's own window is never exceeded.
    windows = [sent_at + timedelta(days=profile.gateway_retention_days)]
    if approval.retention.gateway_days is not None:
        windows.append(receipt_due + timedelta(days=approval.retention.gateway_days))
    if approval.retention.gateway_until_period_end:
        windows.append(max(approval.period_end, sent_at))
    return Deadlines(receipt_due, min(windows), contractor_deletion_due(approval))


def contractor_deletion_due(approval: Approval) -> datetime | None:
    r = approval.retention
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
