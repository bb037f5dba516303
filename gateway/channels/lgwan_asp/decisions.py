"""The city decides the contractor's deletion requests: staff of the city the approval belongs to
see the requests filed under their approvals and approve or reject each, optionally naming a
witness (立会人). Pages under /staff/deletions and `GET /api/v1/deletions`,
`POST /api/v1/deletions/{id}/decision`.

Who may decide is the core's rule (`gateway.retention.deletion.decide`: staff of the approving
city); every other caller, another city's staff included, gets the same "not found" answer as for
an id that does not exist, and the refused attempt is logged.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Security
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from gateway.channels.lgwan_asp import csrf
from gateway.channels.lgwan_asp.api import _changes, bearer
from gateway.channels.lgwan_asp.sessions import Auth
from gateway.channels.lgwan_asp.web import gw_of, refused, render, require, status_of
from gateway.errors import GatewayError, Invalid
from gateway.retention import deletion
from gateway.service import Gateway
from gateway.store import models as m

pages = APIRouter(prefix="/staff/deletions", include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["api"], dependencies=[Security(bearer)])

WITNESS_MAX = 200
REASON_MAX = 1000


def city_deletions(gw: Gateway, org: str, *, state: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Deletion requests under the approvals of the caller's city, pending ones first."""
    q = (select(m.ContractorDeletion, m.Transfer)
         .join(m.Transfer, m.Transfer.id == m.ContractorDeletion.transfer_id)
         .join(m.Approval, m.Approval.id == m.Transfer.approval_id)
         .where(m.Approval.city_id == org))
    if state:
        q = q.where(m.ContractorDeletion.state == state)
    with gw.read() as session:
        rows = session.execute(q.order_by(m.ContractorDeletion.requested_at.desc()).limit(limit)).all()
        out = [{"id": d.id, "transfer": t.id, "approval": t.approval_id, "recipient_org": t.recipient_organisation_id,
                "state": d.state, "request": d.request, "decision": d.decision,
                "certified": d.certificate is not None, "requested_at": d.requested_at}
               for d, t in rows]
    return sorted(out, key=lambda r: r["state"] != "requested")  # stable: newest first within each group


async def _decide(request: Request, auth: Auth, deletion_id: str, *, approve: bool, witness: str | None,
                  reason: str | None) -> None:
    gw = gw_of(request)
    await run_in_threadpool(lambda: deletion.decide(gw, auth.caller(), deletion_id[:64], approve=approve,
                                                    witness=witness, reason=reason))


def _clean(value: str | None, limit: int) -> str | None:
    value = (value or "").strip()
    return value[:limit] if value else None


def _page(request: Request, rows: list[dict[str, Any]], *, message: GatewayError | None = None,
          done: dict[str, str] | None = None) -> Response:
    status = 200 if message is None else status_of(message)
    return render(request, "staff_deletions.html", status=status, rows=rows, message=message, done=done)


@pages.get("")
async def list_page(request: Request) -> Response:
    auth = await require(request, "staff")
    rows = await run_in_threadpool(city_deletions, gw_of(request), auth.org)
    return _page(request, rows)


@pages.post("/{deletion_id}/decision")
async def decide_page(request: Request, deletion_id: str) -> Response:
    auth = await require(request, "staff")
    form = await csrf.form(request, auth)
    gw = gw_of(request)
    choice = form.get("decision", "")
    message: GatewayError | None = None
    done = None
    if choice not in ("approve", "reject"):
        message = await refused(request, "deletion.decide", Invalid("承認するか却下するかを選んでください。",
                                                                     "choose approve or reject."))
    else:
        try:
            await _decide(request, auth, deletion_id, approve=choice == "approve",
                          witness=_clean(form.get("witness"), WITNESS_MAX), reason=_clean(form.get("reason"), REASON_MAX))
            done = {"id": deletion_id, "state": "approved" if choice == "approve" else "rejected"}
        except GatewayError as err:
            message = err
    rows = await run_in_threadpool(city_deletions, gw, auth.org)
    return _page(request, rows, message=message, done=done)


@api.get("/deletions")
async def api_list(request: Request, state: str | None = None) -> Any:
    """Staff: the deletion requests under the approvals of their city (`?state=requested` for pending)."""
    auth = await require(request, "staff")
    return await run_in_threadpool(lambda: city_deletions(gw_of(request), auth.org, state=(state or "")[:16] or None))


class DecisionIn(BaseModel):
    approve: bool
    witness: str | None = Field(default=None, max_length=WITNESS_MAX)
    reason: str | None = Field(default=None, max_length=REASON_MAX)


@api.post("/deletions/{deletion_id}/decision")
async def api_decide(request: Request, deletion_id: str, body: DecisionIn) -> Any:
    """Staff of the approving city: approve or reject a contractor's deletion request."""
    await require(request, "staff")
    auth = await _changes(request)
    await _decide(request, auth, deletion_id, approve=body.approve, witness=_clean(body.witness, WITNESS_MAX),
                  reason=_clean(body.reason, REASON_MAX))
    return {"deletion": deletion_id, "state": "approved" if body.approve else "rejected",
            "witness": _clean(body.witness, WITNESS_MAX)}
