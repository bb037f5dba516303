"""Contractors return deliverables (proofs, lists of returned mail) under the approval of the
transfer they received: the page form on the transfer page and `POST /api/v1/transfers/{id}/deliverables`.

Who may deliver is decided by the core (`gateway.operations.deliverables.authorise`: a designated
handler of the receiving organisation) *before* the first byte of the body is read, so another
organisation's caller or a non-designated handler never writes to the gateway's disk. The body is
then streamed to the private work area by `uploads.receive` (size limit, free-disk check, CSRF
field before the file part, nothing left after an error or a dropped connection) and handed to
`gateway.operations.deliverables.upload`, which stores it encrypted and logs it. The client's
filename is only a label: logged and shown as it came, never part of a path.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Security
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from gateway.channels.lgwan_asp import csrf, queries, uploads
from gateway.channels.lgwan_asp.api import bearer, fail
from gateway.channels.lgwan_asp.contractor import not_found, transfer_page_response
from gateway.channels.lgwan_asp.sessions import Auth
from gateway.channels.lgwan_asp.web import actor_of, error_page, gw_of, require
from gateway.errors import GatewayError
from gateway.ledger.log import Event
from gateway.operations import deliverables

pages = APIRouter(prefix="/contractor", include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["api"], dependencies=[Security(bearer)])

NO_FILE = GatewayError("納品するファイルを選択してください。", "choose the file to deliver.")
EXPIRED = GatewayError("画面の有効期限が切れました。画面を開き直してください。", "the form expired; open the page again.")
DISCONNECTED = GatewayError("送信が途中で切れました。何も保存していません。もう一度送信してください。",
                            "the upload was interrupted; nothing was kept. Send it again.")


@dataclass(frozen=True)
class Delivered:
    deliverable: str
    transfer: str
    name: str
    size: int


class Refused(Exception):
    def __init__(self, err: GatewayError, status: int) -> None:
        self.err, self.status = err, status


async def receive_deliverable(request: Request, auth: Auth, transfer_id: str, *,
                              expected_csrf: str | None) -> Delivered:
    """Shared by the page and the API; every refusal is a `Refused` with its HTTP status."""
    gw = gw_of(request)
    caller = auth.caller()
    try:
        approval = await run_in_threadpool(deliverables.authorise, gw, caller, transfer_id)
    except GatewayError as err:
        if err.kind == "non-designated-handler":
            raise Refused(err, 403) from None
        raise Refused(not_found(transfer_id), 404) from None

    def log(outcome: str, reason: str) -> Any:
        return run_in_threadpool(gw.record, Event(
            action="portal.upload", channel="lgwan-asp", actor=actor_of(auth), source=auth.source,
            approval=approval, transfer=transfer_id, outcome=outcome, reason=reason))

    settings = request.app.state.settings
    try:
        up = await uploads.receive(request, uploads.work_dir(gw.home.root), limit=settings.max_upload_bytes,
                                   expected_csrf=expected_csrf)
    except uploads.CsrfMissing:
        await log("refused", "deliverable upload without the form's CSRF token; nothing was kept")
        raise Refused(EXPIRED, 403) from None
    except uploads.UploadRefused as err:
        await log("refused", f"deliverable upload refused: {err.en}")
        raise Refused(err, err.status) from None
    except ClientDisconnect:
        await log("failed", "the connection closed before the deliverable upload ended; nothing was kept")
        raise Refused(DISCONNECTED, 400) from None
    try:
        if up.path is None:
            raise Refused(NO_FILE, 400)
        name = up.filename or "deliverable"
        await log("ok", f"received deliverable {name!s} ({up.size} bytes)")
        try:
            did = await run_in_threadpool(deliverables.upload, gw, caller, transfer_id, name, up.path)
        except GatewayError as err:  # e.g. the handler was taken off the list meanwhile
            raise Refused(err, 403 if err.kind == "non-designated-handler" else 404) from None
        return Delivered(did, transfer_id, name, up.size)
    finally:
        up.discard()


@pages.post("/transfers/{transfer_id}/deliverables")
async def deliver_page(request: Request, transfer_id: str) -> Response:
    auth = await require(request, "contractor")
    try:
        d = await receive_deliverable(request, auth, transfer_id, expected_csrf=auth.csrf)
    except Refused as r:
        if r.status == 404 or r.err is EXPIRED:
            return error_page(request, r.err, r.status)
        return await transfer_page_response(request, transfer_id, status=r.status, message=r.err)
    return await transfer_page_response(
        request, transfer_id, ok=f"納品を受け付けました / deliverable received: {d.deliverable}", delivered=d.deliverable)


_MULTIPART = {"requestBody": {"content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}}},
    "required": True}}


@api.post("/transfers/{transfer_id}/deliverables", openapi_extra=_MULTIPART)
async def api_deliver(request: Request, transfer_id: str) -> Any:
    """Contractor (designated handler): return a deliverable under this transfer's approval."""
    auth = await require(request, "contractor")
    expected = None if auth.kind == "api" else auth.csrf
    if expected is not None and not csrf.matches(expected, request.headers.get(csrf.HEADER)):
        raise HTTPException(403, "csrf")
    try:
        d = await receive_deliverable(request, auth, transfer_id, expected_csrf=None)
    except Refused as r:
        return fail(r.err, r.status)
    rows = await run_in_threadpool(queries.deliverables_of, gw_of(request), transfer_id)
    row = next(r for r in rows if r["id"] == d.deliverable)
    return JSONResponse({"deliverable": d.deliverable, "transfer": d.transfer, "name": d.name, "size": row["size"],
                         "sha256": row["sha256"]}, status_code=201)


@api.get("/transfers/{transfer_id}/deliverables")
async def api_list(request: Request, transfer_id: str) -> Any:
    """Contractor: what was delivered under a transfer addressed to their organisation."""
    auth = await require(request, "contractor")
    gw = gw_of(request)
    row = await run_in_threadpool(queries.own_transfer, gw, transfer_id, org=auth.org, side="recipient")
    if row is None:
        return fail(not_found(transfer_id), 404)
    return await run_in_threadpool(queries.deliverables_of, gw, transfer_id)
