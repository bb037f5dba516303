"""入力 → 確認 → 完了 for a send from the staff screen. The upload is received and screened as
`gateway check` screens a file (nothing is sent or stored yet); the confirm page shows what would
leave: recipient, approval, channel, record count, columns in Japanese, rows removed before
sending and the file's SHA-256. The sealed upload waits in memory-keyed staging for this session
until the person confirms (then the send runs on it), goes back, or the hold expires."""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from gateway.channels.lgwan_asp import queries, uploads
from gateway.channels.lgwan_asp.sending import Outcome, send_upload
from gateway.channels.lgwan_asp.sessions import Auth
from gateway.channels.lgwan_asp.web import actor_of, gw_of, refused
from gateway.core import second_check
from gateway.core.records.fields import header_label
from gateway.core.screening import screen
from gateway.errors import GatewayError, Invalid, NotFound, Refused
from gateway.operations.attempt import refuse
from gateway.service import Gateway
from gateway.store.registry import get_approval, get_profile

HOLD_SECONDS = 15 * 60


@dataclass
class _Held:
    session: str
    upload: uploads.Upload
    expires: float


@dataclass
class Preview:
    """What the confirm page shows; `token` fetches the held upload for the send."""

    token: str
    filename: str
    size: int
    fields: dict[str, str]
    approval_title: str
    recipient_name: str
    profile: str
    channel: str
    records: int
    records_to_send: int
    columns: list[tuple[str, str]]  # (id, Japanese label)
    removed: dict[str, int]
    sha256: str
    extra: dict[str, Any] = field(default_factory=dict)


class StagedUploads:
    """Uploads waiting for their sender's confirmation, each for its own session only."""

    def __init__(self) -> None:
        self._items: dict[str, _Held] = {}
        self._lock = threading.Lock()

    def put(self, session: str, upload: uploads.Upload) -> str:
        key = secrets.token_urlsafe(24)
        with self._lock:
            self._sweep()
            self._items[key] = _Held(session, upload, time.monotonic() + HOLD_SECONDS)
        return key

    def take(self, key: str, session: str) -> uploads.Upload | None:
        with self._lock:
            self._sweep()
            held = self._items.get(key)
            if held is None or held.session != session:
                return None
            del self._items[key]
            return held.upload

    def discard_all(self) -> None:
        with self._lock:
            for held in self._items.values():
                held.upload.discard()
            self._items.clear()

    def _sweep(self) -> None:
        now = time.monotonic()
        for k in [k for k, v in self._items.items() if v.expires < now]:
            self._items.pop(k).upload.discard()


def _screen(gw: Gateway, auth: Auth, up: uploads.Upload) -> Preview:
    """Screen the held file against the chosen approval; a refusal is logged as the send's would be."""
    f = up.fields
    approval_id = f.get("approval", "")
    mine = {c.approval for c in queries.send_choices(gw, auth.org)}
    who = actor_of(auth)
    if up.path is None:
        raise refuse(gw, who, "transfer.send", Invalid("ファイルを選択してください。", "choose a file to send."),
                     channel="lgwan-asp", source=auth.source)
    if approval_id not in mine:
        raise refuse(gw, who, "transfer.send", NotFound(
            f"承認「{approval_id}」は見つかりません。", f"no approval '{approval_id}' for your organisation."),
            channel="lgwan-asp", source=auth.source)
    try:
        with gw.read() as session:
            approval = get_approval(session, approval_id)
            profile = get_profile(session, f.get("profile", ""))
        result = screen(up.path, approval, profile, sender_org=auth.org, sender_role=auth.role,
                        recipient=f.get("recipient", ""), at=gw.clock.now(),
                        password_delivery=f.get("password_delivery") or None,
                        max_line=gw.settings.records.max_line_bytes)
        if not result.decision.allowed:
            raise Refused(result.decision.refusals)
    except GatewayError as err:
        if not err.logged:
            raise refuse(gw, who, "transfer.send", err, channel="lgwan-asp", source=auth.source,
                         approval=approval_id) from None
        raise
    m = result.manifest
    recipient = next((r.organisation.name for r in approval.recipients
                      if r.organisation.id == f.get("recipient")), f.get("recipient", ""))
    sent_columns = [c for c in m.columns if c in approval.fields]
    rule = gw.settings.second_check
    check = second_check.required(approval.second_check, second_check.city_rule(
        bool(rule.always), rule.above_records, bool(rule.bank_accounts)), result.decision.records_to_send,
        sent_columns, f.get("second_check") == "on")
    return Preview(token="", filename=up.filename or "", size=up.size, fields=dict(f), approval_title=approval.title,
                   recipient_name=recipient, profile=profile.id, channel=profile.channel, records=m.record_count,
                   records_to_send=result.decision.records_to_send,
                   columns=[(c, header_label(c)) for c in sent_columns],
                   removed={p: m.excluded.get(p, 0) for p in sorted(result.decision.remove)}, sha256=m.sha256,
                   extra={"check_reasons": check, "checkers": list(approval.second_check.approvers) if check else []})


async def stage(request: Request, auth: Auth) -> Preview | Outcome:
    """Receive and screen the upload: a preview to confirm, or the refusal as a send's outcome."""
    gw = gw_of(request)
    work = uploads.work_dir(gw.home.root)
    try:
        up = await uploads.receive(request, work, limit=request.app.state.settings.max_upload_bytes,
                                   expected_csrf=auth.csrf)
    except GatewayError as err:
        raise await refused(request, "portal.upload", err) from None
    try:
        preview = await run_in_threadpool(_screen, gw, auth, up)
    except GatewayError as err:
        up.discard()
        outcome = Outcome(up.filename, up.size, {k: v for k, v in up.fields.items() if k != "csrf"}, error=err)
        if isinstance(err, Refused):
            outcome.refusals = [{"kind": str(r.kind or ""), "ja": r.ja, "en": r.en} for r in err.refusals]
        return outcome
    except BaseException:
        up.discard()
        raise
    preview.token = request.app.state.staged.put(auth.token_sha256, up)
    return preview


async def confirm(request: Request, auth: Auth, token: str) -> Outcome:
    """The held upload sent (the full send, screened again at this moment), or why not."""
    up = request.app.state.staged.take(token[:64], auth.token_sha256)
    if up is None:
        raise await refused(request, "transfer.send", NotFound(
            "確認画面の有効期限が切れたか、既に送信しました。送信画面からやり直してください。",
            "the confirmation expired or was already used; start again from the send screen."))
    try:
        return await run_in_threadpool(send_upload, gw_of(request), auth, up)
    finally:
        up.discard()
