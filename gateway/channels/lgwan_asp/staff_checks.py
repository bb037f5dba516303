"""The second person's check on the staff screens (issue 20): the sends waiting for the caller's
check, what each one is (never a record of it), and the approve / reject forms. An approval shows
the password notice once, as a send does."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from gateway.channels.lgwan_asp import csrf
from gateway.channels.lgwan_asp.web import gw_of, render, require
from gateway.operations import second_check

router = APIRouter(prefix="/staff/checks", include_in_schema=False)


@router.get("")
async def checks_page(request: Request) -> Response:
    auth = await require(request, "staff")
    rows = await run_in_threadpool(second_check.pending, gw_of(request), auth.caller())
    return render(request, "staff_checks.html", rows=rows)


@router.get("/{transfer_id}")
async def check_page(request: Request, transfer_id: str) -> Response:
    auth = await require(request, "staff")
    row = await run_in_threadpool(second_check.show, gw_of(request), auth.caller(), transfer_id[:64])
    return render(request, "staff_check.html", c=row)


@router.post("/{transfer_id}/approve")
async def approve_post(request: Request, transfer_id: str) -> Response:
    return await _decide(request, transfer_id, approve=True)


@router.post("/{transfer_id}/reject")
async def reject_post(request: Request, transfer_id: str) -> Response:
    return await _decide(request, transfer_id, approve=False)


async def _decide(request: Request, transfer_id: str, *, approve: bool) -> Response:
    auth = await require(request, "staff")
    form = await csrf.form(request, auth)
    done = await run_in_threadpool(lambda: second_check.decide(
        gw_of(request), auth.caller(), transfer_id[:64], approve=approve, reason=form.get("reason", ""),
        notice_html=approve))
    notice_key = None
    if done.notice_html is not None:
        notice_key = request.app.state.notices.put(auth.token_sha256, done.transfer, done.notice_html)
    return render(request, "staff_check_done.html", d=done, notice_key=notice_key)
