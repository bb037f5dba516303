"""Downloads bound to their channel and limited in number (issue 20, item 2).

A package leaves only over the channel of its profile: the portal serves `lgwan-asp` packages, the
SFTP server `vpn-sftp` ones, and courier packages leave on media; any other data channel is
refused as `unapproved-channel`. A transfer sent under a limit (the approval's `[downloads]`, its
profile's `max_downloads`, the city's `[downloads]` setting, or the sender's own) allows that many complete downloads and that
many retries of broken ones; past either, `download-over-limit`.
"""
from __future__ import annotations

from sqlalchemy import func, select

from gateway.core.approvals import Approval
from gateway.core.profiles import CHANNELS, Profile
from gateway.errors import Refused
from gateway.findings import Kind
from gateway.operations.attempt import Attempt
from gateway.settings import DownloadSettings
from gateway.store import models as m
from gateway.store.models_limits import DownloadLimit


def limit_for(approval: Approval, profile: Profile, city: DownloadSettings,
              requested: int | None) -> tuple[int, int] | None:
    """(complete downloads, retries) a new transfer allows, the tightest of what is set; None: no limit."""
    limits = [n for n in (approval.downloads.max_complete, profile.max_downloads, city.max_complete or None, requested)
              if n]
    if not limits:
        return None
    retries = approval.downloads.retries if approval.downloads.retries is not None else city.retries
    return min(limits), retries


def check(a: Attempt, transfer: m.Transfer) -> None:
    """Refuse a download over the wrong channel or past the transfer's limit."""
    channel = a.caller.channel if a.caller is not None else a.channel
    if channel in CHANNELS and channel != transfer.channel:
        raise Refused.one(
            Kind.UNAPPROVED_CHANNEL,
            f"この受け渡しは「{transfer.channel}」で受け取るものです。「{channel}」では受け取れません。",
            f"this transfer is received over {transfer.channel}, not over {channel}.")
    with a.gw.read() as session:
        limit = session.get(DownloadLimit, transfer.id)
        if limit is None:
            return
        counts = dict(session.execute(
            select(m.LogEntry.outcome, func.count()).where(
                m.LogEntry.transfer_id == transfer.id, m.LogEntry.action == "transfer.download",
                m.LogEntry.outcome.in_(("ok", "failed"))).group_by(m.LogEntry.outcome)).all())
    complete, broken = counts.get("ok", 0), counts.get("failed", 0)
    if complete >= limit.max_complete or broken > limit.retries:
        raise Refused.one(
            Kind.DOWNLOAD_OVER_LIMIT,
            f"この受け渡しのダウンロードは上限（完了 {limit.max_complete} 回、中断後の再試行 {limit.retries} 回）に"
            "達しています。複写は認められていません。必要なら市の担当者に連絡してください。",
            f"this transfer's downloads are used up ({limit.max_complete} complete, {limit.retries} retries of "
            f"broken ones; so far {complete} complete, {broken} broken); copies are not allowed — ask the city.")
