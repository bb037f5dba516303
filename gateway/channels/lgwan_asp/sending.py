"""The staff send, shared by the send-only screen and the API: receive the upload, log it, and
hand it to gateway.operations.send, which screens, minimises, encrypts, stores and logs."""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from gateway.channels.lgwan_asp import queries, uploads
from gateway.channels.lgwan_asp.sessions import Auth
from gateway.channels.lgwan_asp.web import actor_of, gw_of, refused
from gateway.errors import NOT_LOGGED, GatewayError, Invalid, NotFound, Refused
from gateway.ledger.log import Event
from gateway.operations.attempt import refuse
from gateway.operations.send import SendRequest, Sent, send
from gateway.store import faultpoints


@dataclass
class Outcome:
    filename: str | None
    size: int
    fields: dict[str, str]
    sent: Sent | None = None
    notice_html: str | None = None
    refusals: list[dict[str, str]] = field(default_factory=list)
    error: GatewayError | None = None


async def upload_and_send(request: Request, auth: Auth, *, expected_csrf: str | None) -> Outcome:
    """The upload's refusals (size, form, CSRF) are logged and raised; the send's are in the outcome."""
    gw = gw_of(request)
    settings = request.app.state.settings
    work = uploads.work_dir(gw.home.root)
    try:
        up = await uploads.receive(request, work, limit=settings.max_upload_bytes, expected_csrf=expected_csrf)
    except ClientDisconnect:
        await run_in_threadpool(gw.record, Event(
            action="portal.upload", channel="lgwan-asp", actor=actor_of(auth), source=auth.source,
            outcome="failed", reason="the connection closed before the upload ended; nothing was kept"))
        raise
    except GatewayError as err:
        raise await refused(request, "portal.upload", err) from None
    faultpoints.reached("upload:after-spool")  # the resident file whole in the work area, not yet sent
    try:
        return await run_in_threadpool(send_upload, gw, auth, up, request.headers.get("idempotency-key"))
    finally:
        up.discard()


# A client's own name for one send, the same on each retry of it (IETF draft "The Idempotency-Key
# HTTP Header Field"; a UUID is typical).
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._:-]{8,128}")


def source_key(login: str, idempotency_key: str) -> str:
    """The send's `source_key`: a retry with the same key finds the transfer the first attempt made
    (operations.send refuses it as AlreadySent, naming it). Per account, so that one user's key
    never meets another's."""
    return "api:" + hashlib.sha256(f"{login}\0{idempotency_key}".encode()).hexdigest()


def send_upload(gw: Any, auth: Auth, up: uploads.Upload, idempotency_key: str | None = None) -> Outcome:
    """Send a received upload (the caller discards it afterwards). With an `Idempotency-Key`, a
    retry of a send that completed (its answer lost with a node that died) makes no second transfer."""
    f = up.fields
    outcome = Outcome(up.filename, up.size, {k: v for k, v in f.items() if k != "csrf"})
    approval = f.get("approval", "")
    # Only approvals of the caller's own city are offered; any other id is treated as unknown,
    # so the form cannot be used to probe which approvals exist elsewhere (IDOR).
    mine = {c.approval for c in queries.send_choices(gw, auth.org)}
    gw.record(Event(action="portal.upload", channel="lgwan-asp", actor=actor_of(auth), source=auth.source,
                    approval=approval if approval in mine else None,
                    reason=f"received file {up.filename!s} ({up.size} bytes)"))
    if up.path is None:
        outcome.error = refuse(gw, actor_of(auth), "transfer.send", Invalid(
            "ファイルを選択してください。", "choose a file to send."), channel="lgwan-asp", source=auth.source)
        return outcome
    if approval not in mine:
        outcome.error = refuse(gw, actor_of(auth), "transfer.send", NotFound(
            f"承認「{approval}」は見つかりません。", f"no approval '{approval}' for your organisation."),
            channel="lgwan-asp", source=auth.source)
        return outcome
    if idempotency_key is not None and not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        outcome.error = refuse(gw, actor_of(auth), "transfer.send", Invalid(
            "Idempotency-Key は英数字と . _ : - の 8〜128 文字で指定してください（例: UUID）。",
            "Idempotency-Key must be 8 to 128 letters, digits or . _ : - (a UUID, say)."),
            channel="lgwan-asp", source=auth.source)
        return outcome
    year_text = (f.get("record_fiscal_year") or "").strip()
    if year_text and not (year_text.isascii() and year_text.isdigit() and 1900 <= int(year_text) <= 2999):
        outcome.error = refuse(gw, actor_of(auth), "transfer.send", Invalid(
            "記録の年度（record_fiscal_year）は西暦の4桁で指定してください（例: 2015）。",
            "record_fiscal_year must be a four-digit year (e.g. 2015)."), channel="lgwan-asp", source=auth.source)
        return outcome
    notice = up.path.path.with_name(f"{os.getpid()}.{secrets.token_hex(8)}.notice.html")
    try:
        outcome.sent = send(gw, auth.caller(), SendRequest(
            file=up.path, approval=approval, profile=f.get("profile", ""), recipient=f.get("recipient", ""),
            password_delivery=f.get("password_delivery", ""), notice_to=notice,
            record_fiscal_year=int(year_text) if year_text else None,
            second_check=f.get("second_check") == "on",
            source_key=source_key(auth.login, idempotency_key) if idempotency_key is not None else None))
        # A held send has no notice yet: the checker's approval releases it (staff_checks.py).
        outcome.notice_html = None if outcome.sent.held else notice.read_text(encoding="utf-8")
    except Refused as err:
        outcome.refusals = [{"kind": str(r.kind or ""), "ja": r.ja, "en": r.en} for r in err.refusals]
        outcome.error = err
    except GatewayError as err:
        if err.category in NOT_LOGGED:
            raise  # not an answer about the file: the portal says 503, try again (app.py)
        outcome.error = err
    finally:
        with contextlib.suppress(FileNotFoundError):
            notice.unlink()
    return outcome
