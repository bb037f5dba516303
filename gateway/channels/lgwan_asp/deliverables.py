"""Contractors return deliverables (proofs, lists of returned mail) under the approval of the
transfer they received: the page form on the transfer page and `POST /api/v1/transfers/{id}/deliverables`.

Who may deliver is decided by the core (`gateway.operations.deliverables.authorise`: a designated
handler of the receiving organisation) *before* the first byte of the body is read, so another
organisation's caller or a non-designated handler never writes to the gateway's disk. The body is
then streamed to the private work area by `uploads.receive` (size limit, free-disk check, CSRF
field before the file part, nothing left after an error or a dropped connection) straight into
the blob store, encrypted under the blob's own key as it arrives, and handed to
`gateway.operations.deliverables.upload`, which records it and logs it. The client's
filename is only a label: logged and shown as it came, never part of a path.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Security
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from gateway.channels.lgwan_asp import csrf, queries, uploads
from gateway.channels.lgwan_asp.api import bearer
from gateway.channels.lgwan_asp.contractor import not_found, transfer_page_response
from gateway.channels.lgwan_asp.sessions import Auth
from gateway.channels.lgwan_asp.web import actor_of, gw_of, refused, require
from gateway.errors import Category, GatewayError, Invalid
from gateway.ledger.log import Event
from gateway.operations import deliverables

pages = APIRouter(prefix="/contractor", include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["api"], dependencies=[Security(bearer)])



@dataclass(frozen=True)
class Delivered:
    deliverable: str
    transfer: str
    name: str
    size: int


async def receive_deliverable(request: Request, auth: Auth, transfer_id: str, *,
                              expected_csrf: str | None) -> Delivered:
    """Shared by the page and the API; every refusal is raised, logged once, as a GatewayError."""
    gw = gw_of(request)
    caller = auth.caller()
    approval = await run_in_threadpool(deliverables.authorise, gw, caller, transfer_id)

    def log(outcome: str, reason: str) -> Any:
        return run_in_threadpool(gw.record, Event(
            action="portal.upload", channel="lgwan-asp", actor=actor_of(auth), source=auth.source,
            approval=approval, transfer=transfer_id, outcome=outcome, reason=reason))

    settings = request.app.state.settings
    try:
        blobs = await run_in_threadpool(gw.blobs)  # reads the KEK; an object store's client is made once
        up = await uploads.receive(request, uploads.work_dir(gw.home.root), limit=settings.max_upload_bytes,
                                   expected_csrf=expected_csrf, into=lambda: blobs.writer(at=gw.clock.now()))
    except GatewayError as err:
        raise await refused(request, "portal.upload", err) from None
    except ClientDisconnect:
        await log("failed", "the connection closed before the deliverable upload ended; nothing was kept")
        raise Invalid("送信が途中で切れました。何も保存していません。もう一度送信してください。",
                      "the upload was interrupted; nothing was kept. Send it again.") from None
    try:
        if up.blob is None:
            raise await refused(request, "portal.upload", Invalid(
                "納品するファイルを選択してください。", "choose the file to deliver."))
        name = up.filename or "deliverable"
        await log("ok", f"received deliverable {name!s} ({up.size} bytes)")
        did = await run_in_threadpool(deliverables.upload, gw, caller, transfer_id, name, up.blob)
        return Delivered(did, transfer_id, name, up.size)
    finally:
        up.discard()


@pages.post("/transfers/{transfer_id}/deliverables")
async def deliver_page(request: Request, transfer_id: str) -> Response:
    auth = await require(request, "contractor")
    try:
        d = await receive_deliverable(request, auth, transfer_id, expected_csrf=auth.csrf)
    except GatewayError as err:
        if err.category in (Category.NOT_FOUND, Category.FORBIDDEN) and not err.kinds:
            raise  # not this person's transfer, or a stale form: the error page, not the transfer page
        return await transfer_page_response(request, transfer_id, message=err)
    return await transfer_page_response(
        request, transfer_id, ok=f"納品を受け付けました / deliverable received: {d.deliverable}", delivered=d.deliverable)


_MULTIPART = {"requestBody": {"content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}}},
    "required": True}}


@api.post("/transfers/{transfer_id}/deliverables", openapi_extra=_MULTIPART)
async def api_deliver(request: Request, transfer_id: str) -> Any:
    """Contractor (designated handler): return a deliverable under this transfer's approval."""
    auth = await require(request, "contractor")
    await csrf.check(request, auth)
    d = await receive_deliverable(request, auth, transfer_id, expected_csrf=None)
    rows = await run_in_threadpool(queries.deliverables_of, gw_of(request), transfer_id)
    row = next(r for r in rows if r["id"] == d.deliverable)
    return JSONResponse({"deliverable": d.deliverable, "transfer": d.transfer, "name": d.name, "size": row["size"],
                         "sha256": row["sha256"]}, status_code=201)


@api.get("/transfers/{transfer_id}/deliverables")
async def api_list(request: Request, transfer_id: str) -> Any:
    """Contractor: what was delivered under a transfer addressed to their organisation."""
    auth = await require(request, "contractor")
    gw = gw_of(request)
    row = await run_in_threadpool(queries.own_transfer, gw, transfer_id, org=auth.org, side="recipient", login=auth.login)
    if row is None:
        raise await refused(request, "deliverable.list", not_found(transfer_id))
    return await run_in_threadpool(queries.deliverables_of, gw, transfer_id)
