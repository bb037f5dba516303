"""Downloads bound to their channel and limited in number (issue 20, item 2).

A package leaves only over the channel of its profile: the portal serves `lgwan-asp` packages, the
SFTP server `vpn-sftp` ones, and courier packages leave on media; any other data channel is
refused as `unapproved-channel`. A transfer sent under a limit (the approval's `[downloads]`, its
profile's `max_downloads`, the city's `[downloads]` setting, or the sender's own) allows that many complete downloads and that
many retries of broken ones; past either, `download-over-limit`.
"""
from __future__ import annotations

from typing import cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

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
    """Refuse a download over the wrong channel or past the transfer's limit, taking nothing:
    what a channel asks before it begins (an SFTP open). `begin` decides."""
    _channel(a, transfer)
    with a.gw.read() as session:
        limit = session.get(DownloadLimit, transfer.id)
        if limit is not None and not (limit.started - limit.broken < limit.max_complete
                                      and limit.broken <= limit.retries):
            raise _used_up(limit)


def begin(a: Attempt, transfer: m.Transfer) -> None:
    """Take one of the transfer's downloads, or refuse. Checking and counting are one conditional
    UPDATE: of downloads begun at the same instant (two SFTP sessions, two nodes on one database)
    only as many as the limit allows pass, whatever the database (SQLite's write lock; PostgreSQL
    re-checks the condition on the row it locked). A download begun is counted until `broke` says
    it did not complete: one cut off unseen (a killed node) keeps its place."""
    _channel(a, transfer)
    with a.gw.unit() as session:
        taken = session.execute(
            update(DownloadLimit).where(
                DownloadLimit.transfer_id == transfer.id,
                DownloadLimit.started - DownloadLimit.broken < DownloadLimit.max_complete,
                DownloadLimit.broken <= DownloadLimit.retries)
            .values(started=DownloadLimit.started + 1)
            .execution_options(synchronize_session=False))
        if cast(CursorResult, taken).rowcount == 1:
            return
        limit = session.get(DownloadLimit, transfer.id)
        if limit is None:  # sent without a limit
            return
        err = _used_up(limit)
    raise err


def broke(session: Session, transfer_id: str) -> None:
    """The download `begin` counted did not complete: it gives back its place and uses a retry."""
    session.execute(update(DownloadLimit).where(DownloadLimit.transfer_id == transfer_id)
                    .values(broken=DownloadLimit.broken + 1).execution_options(synchronize_session=False))


def _channel(a: Attempt, transfer: m.Transfer) -> None:
    channel = a.caller.channel if a.caller is not None else a.channel
    if channel in CHANNELS and channel != transfer.channel:
        raise Refused.one(
            Kind.UNAPPROVED_CHANNEL,
            f"この受け渡しは「{transfer.channel}」で受け取るものです。「{channel}」では受け取れません。",
            f"this transfer is received over {transfer.channel}, not over {channel}.")


def _used_up(limit: DownloadLimit) -> Refused:
    complete, broken = limit.started - limit.broken, limit.broken
    return Refused.one(
        Kind.DOWNLOAD_OVER_LIMIT,
        f"この受け渡しのダウンロードは上限（完了 {limit.max_complete} 回、中断後の再試行 {limit.retries} 回）に"
        "達しています。複写は認められていません。必要なら市の担当者に連絡してください。",
        f"this transfer's downloads are used up ({limit.max_complete} complete, {limit.retries} retries of "
        f"broken ones; so far {complete} complete or under way, {broken} broken); copies are not allowed — "
        "ask the city.")
