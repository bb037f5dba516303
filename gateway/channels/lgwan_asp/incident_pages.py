"""Recalls and incidents on the portal (issue 20, items 3 and 4): staff recall a transfer from its
page; contractors' handlers file incident reports and say an instruction was carried out; staff
and security officers record incidents, instruct, decide on 公表 and close; a security officer
records a hand-over found outside the gateway and links it to the approval that regularised it.
Every action is the core's (operations/recall.py, incidents.py, external.py): refusals are logged there."""
from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from gateway.channels.lgwan_asp import csrf, queries
from gateway.channels.lgwan_asp.sessions import Auth
from gateway.channels.lgwan_asp.web import auth_of, gw_of, refused, render, require
from gateway.clock import JST
from gateway.errors import Forbidden, Invalid
from gateway.operations import external, incidents
from gateway.operations.recall import recall

router = APIRouter(include_in_schema=False)
ROLES = ("staff", "contractor", "security-officer")


def _when(text: str, field_ja: str, field_en: str) -> datetime:
    """A `datetime-local` field (JST, as people here write times)."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{field_ja}の日時を読めません（例: 2020-06-05T17:00）。",
                      f"cannot read the {field_en} (e.g. 2020-06-05T17:00).") from None
    return (at if at.tzinfo else at.replace(tzinfo=JST)).astimezone(UTC)


def _records(text: str) -> int:
    if not text.strip().isdigit():
        raise Invalid("件数は 0 以上の整数で書いてください。", "give the record count as a whole number, 0 or more.")
    return int(text)


async def _any_role(request: Request) -> Auth:
    auth = auth_of(request)
    if auth.role not in ROLES:
        raise await refused(request, "portal.forbidden", Forbidden(
            "この画面は、あなたの役割では使えません。", f"role {auth.role} may not use {request.url.path}"))
    return auth


@router.post("/staff/transfers/{transfer_id}/recall")
async def recall_post(request: Request, transfer_id: str) -> Response:
    auth = await require(request, "staff")
    form = await csrf.form(request, auth)
    done = await run_in_threadpool(recall, gw_of(request), auth.caller(), transfer_id[:64],
                                   reason=form.get("reason", ""))
    row = await run_in_threadpool(queries.own_transfer, gw_of(request), transfer_id[:64], org=auth.org, side="sender")
    return render(request, "staff_transfer.html", tr=row, methods=queries.password_methods(), done=None, recalled=done)


@router.get("/incidents")
async def incidents_page(request: Request) -> Response:
    auth = await _any_role(request)
    gw = gw_of(request)
    rows = await run_in_threadpool(incidents.listing, gw, auth.caller())
    mine = await run_in_threadpool(queries.addressed_to, gw, auth.org, auth.login) if auth.role == "contractor" else []
    return render(request, "incidents.html", rows=rows, transfers=mine, filed=None)


@router.post("/incidents")
async def report_post(request: Request) -> Response:
    auth = await _any_role(request)
    form = await csrf.form(request, auth)
    gw = gw_of(request)
    facts = incidents.Facts(content=form.get("content", ""), records=_records(form.get("records", "")),
                            place=form.get("place", ""), circumstances=form.get("circumstances", ""),
                            occurred_at=_when(form.get("occurred_at", ""), "発生", "time it happened"))
    filed = await run_in_threadpool(lambda: incidents.report(
        gw, auth.caller(), facts, transfer=form.get("transfer") or None, approval=form.get("approval") or None,
        incident=form.get("incident") or None))
    rows = await run_in_threadpool(incidents.listing, gw, auth.caller())
    mine = await run_in_threadpool(queries.addressed_to, gw, auth.org, auth.login) if auth.role == "contractor" else []
    return render(request, "incidents.html", rows=rows, transfers=mine, filed=filed)


@router.get("/incidents/{incident_id}")
async def incident_page(request: Request, incident_id: str) -> Response:
    auth = await _any_role(request)
    row = await run_in_threadpool(incidents.show, gw_of(request), auth.caller(), incident_id[:64])
    return render(request, "incident.html", i=row, done=None)


@router.post("/incidents/{incident_id}/{step}")
async def incident_step(request: Request, incident_id: str, step: str) -> Response:
    auth = await _any_role(request)
    form = await csrf.form(request, auth)
    gw, caller, found = gw_of(request), auth.caller(), incident_id[:64]
    if step == "instruct":
        due = _when(form.get("due", ""), "期限", "deadline")
        await run_in_threadpool(lambda: incidents.instruct(gw, caller, found, instruction=form.get("instruction", ""),
                                                           due=due))
    elif step == "done":
        await run_in_threadpool(lambda: incidents.instruction_done(gw, caller, found, note=form.get("note", "")))
    elif step == "publication":
        await run_in_threadpool(lambda: incidents.publication(gw, caller, found, publish=form.get("decision") == "publish",
                                                              reason=form.get("reason", "")))
    elif step == "close":
        await run_in_threadpool(lambda: incidents.close(gw, caller, found, summary=form.get("summary", "")))
    else:
        raise await refused(request, "incident.step", Invalid(f"操作「{step[:40]}」はありません。", "no such step."))
    row = await run_in_threadpool(incidents.show, gw, caller, found)
    return render(request, "incident.html", i=row, done=step)


@router.get("/officer/external")
async def external_page(request: Request) -> Response:
    await require(request, "security-officer")
    return render(request, "officer_external.html", recorded=None, linked=None)


@router.post("/officer/external")
async def external_post(request: Request) -> Response:
    auth = await require(request, "security-officer")
    form = await csrf.form(request, auth)
    records, at = _records(form.get("records", "")), _when(form.get("handed_over_at", ""), "受渡し", "hand-over time")
    found = await run_in_threadpool(lambda: external.declare(
        gw_of(request), auth.caller(), sender_org=auth.org, recipient=form.get("recipient", ""),
        description=form.get("description", ""), records=records, handed_over_at=at))
    return render(request, "officer_external.html", recorded=found, linked=None)


@router.post("/officer/external/regularise")
async def regularise_post(request: Request) -> Response:
    auth = await require(request, "security-officer")
    form = await csrf.form(request, auth)
    evidence = await run_in_threadpool(lambda: external.regularise(
        gw_of(request), auth.caller(), form.get("transfer", "")[:64], approval=form.get("approval", "")[:64],
        note=form.get("note", "")))
    return render(request, "officer_external.html", recorded=None, linked=evidence)
