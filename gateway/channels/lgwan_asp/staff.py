"""The staff send-only screen (送信専用画面): choose, upload, see the result, print the notice once,
record its dispatch; deadlines coming up and deletion requests waiting for a decision are shown on
the same start page. Staff have no download route at all."""
from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from gateway.channels.lgwan_asp import confirming, csrf, labels, queries
from gateway.channels.lgwan_asp.decisions import city_deletions
from gateway.channels.lgwan_asp.headers import csp_for_document
from gateway.channels.lgwan_asp.sending import Outcome, upload_and_send
from gateway.channels.lgwan_asp.web import gw_of, refused, render, require, status_of
from gateway.core.records.fields import EXCLUDED_POPULATIONS
from gateway.errors import Gone, NotFound
from gateway.operations import notices

router = APIRouter(prefix="/staff", include_in_schema=False)
REMINDER_LABELS = labels.REMINDERS


@router.get("")
async def send_form(request: Request) -> Response:
    auth = await require(request, "staff")
    gw = gw_of(request)
    choices = await run_in_threadpool(queries.send_choices, gw, auth.org)
    sent = await run_in_threadpool(queries.sent_by, gw, auth.org)
    settings = request.app.state.settings
    due = await run_in_threadpool(lambda: queries.city_reminders(gw, auth.org,
                                                                 within=timedelta(days=settings.reminder_days)))
    pending = await run_in_threadpool(lambda: city_deletions(gw, auth.org, state="requested"))
    titles = await run_in_threadpool(queries.profile_titles, gw)
    return render(request, "staff_send.html", choices=choices, methods=queries.password_methods(), sent=sent,
                  profile_titles=titles,
                  limit=settings.max_upload_bytes, reminders=due, reminder_days=settings.reminder_days,
                  reminder_labels=REMINDER_LABELS, pending=pending)


@router.post("/send")
async def send_post(request: Request) -> Response:
    auth = await require(request, "staff")
    try:
        outcome = await upload_and_send(request, auth, expected_csrf=auth.csrf)
    except ClientDisconnect:
        return Response(status_code=400)
    notice_key = None
    if outcome.sent is not None and outcome.notice_html is not None:
        notice_key = request.app.state.notices.put(auth.token_sha256, outcome.sent.transfer, outcome.notice_html)
    status = 200 if outcome.error is None else status_of(outcome.error)
    return render(request, "staff_result.html", status=status, o=outcome, notice_key=notice_key,
                  methods=queries.password_methods())


@router.post("/confirm")
async def confirm_page(request: Request) -> Response:
    """入力 → 確認: the upload screened and held; the page shows what would leave, nothing has yet."""
    auth = await require(request, "staff")
    try:
        staged = await confirming.stage(request, auth)
    except ClientDisconnect:
        return Response(status_code=400)
    if isinstance(staged, Outcome):
        return render(request, "staff_result.html", status=status_of(staged.error) if staged.error else 200,
                      o=staged, notice_key=None, methods=queries.password_methods())
    return render(request, "staff_confirm.html", p=staged, methods=queries.password_methods(),
                  populations=EXCLUDED_POPULATIONS)


@router.post("/confirmed")
async def confirmed_page(request: Request) -> Response:
    """確認 → 完了: the held upload sent, then the notice, as a direct send answers."""
    auth = await require(request, "staff")
    form = await csrf.form(request, auth)
    if form.get("action") == "back":
        held = request.app.state.staged.take(form.get("token", "")[:64], auth.token_sha256)
        if held is not None:
            held.discard()
        return RedirectResponse("/staff", status_code=303)
    outcome = await confirming.confirm(request, auth, form.get("token", ""))
    notice_key = None
    if outcome.sent is not None and outcome.notice_html is not None:
        notice_key = request.app.state.notices.put(auth.token_sha256, outcome.sent.transfer, outcome.notice_html)
    status = 200 if outcome.error is None else status_of(outcome.error)
    return render(request, "staff_result.html", status=status, o=outcome, notice_key=notice_key,
                  methods=queries.password_methods())


@router.get("/notices/{key}")
async def notice_once(request: Request, key: str) -> Response:
    auth = await require(request, "staff")
    held = request.app.state.notices.take(key[:100], auth.token_sha256)
    if held is None:
        raise await refused(request, "notice.show", Gone(
            "この通知書は既に表示されたか、有効期限が切れています。通知書は一度だけ表示されます。",
            "this notice was already shown or has expired; a notice is shown only once."))
    # The notice is printed as it is: its own inline style is allowed by hash, scripts stay forbidden.
    return HTMLResponse(held[1], headers={"cache-control": "no-store",
                                          "content-security-policy": csp_for_document(held[1])})


@router.get("/transfers/{transfer_id}")
async def transfer_page(request: Request, transfer_id: str) -> Response:
    auth = await require(request, "staff")
    row = await run_in_threadpool(queries.own_transfer, gw_of(request), transfer_id, org=auth.org, side="sender")
    if row is None:
        raise await refused(request, "transfer.show", NotFound(f"受け渡し「{transfer_id}」は見つかりません。",
                                                              f"no transfer '{transfer_id}'."))
    return render(request, "staff_transfer.html", tr=row, methods=queries.password_methods(), done=None)


@router.post("/transfers/{transfer_id}/dispatch")
async def dispatch_post(request: Request, transfer_id: str) -> Response:
    auth = await require(request, "staff")
    form = await csrf.form(request, auth)
    gw = gw_of(request)
    notice_id = await run_in_threadpool(notices.dispatch, gw, auth.caller(), transfer_id,
                                        method=form.get("method", ""), tracking=form.get("tracking") or None)
    row = await run_in_threadpool(queries.own_transfer, gw, transfer_id, org=auth.org, side="sender")
    return render(request, "staff_transfer.html", tr=row, methods=queries.password_methods(), done=notice_id)


@router.get("/")
async def slash(request: Request) -> Response:
    return RedirectResponse("/staff", status_code=303)
