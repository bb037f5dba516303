"""The JSON API beside the pages (`/api/v1`, OpenAPI at `/api/openapi.json`).

Authentication is the same as the pages': the designated terminal's certificate in the TLS
handshake, then either the page session (cookie plus X-CSRF-Token on changes) or a bearer token
from POST /api/v1/tokens. A bearer token is bound to the terminal it was issued on, and follows the
same idle and absolute timeouts as a page session.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from gateway.channels.lgwan_asp import auth as authn
from gateway.channels.lgwan_asp import csrf, queries, sessions
from gateway.channels.lgwan_asp.contractor import stream_package
from gateway.channels.lgwan_asp.officer import audit_report, log_filter
from gateway.channels.lgwan_asp.sending import IDEMPOTENCY_KEY, upload_and_send
from gateway.channels.lgwan_asp.web import actor_of, auth_of, gw_of, refused, require, source_of, status_of, terminal_of
from gateway.clock import JST
from gateway.errors import Forbidden, Invalid, NotFound
from gateway.ledger.log import Event
from gateway.operations import incidents, notices
from gateway.operations.receive import confirm_receipt
from gateway.operations.send import AlreadySent
from gateway.retention import deletion

bearer = HTTPBearer(auto_error=False, description="POST /api/v1/tokens で発行 / issued by POST /api/v1/tokens")
router = APIRouter(prefix="/api/v1", tags=["api"])
secured = APIRouter(prefix="/api/v1", tags=["api"], dependencies=[Security(bearer)])


# Refusals raised by a route are answered by the application's one handler (app.py), with the
# status of their category (web.STATUS) and the JSON of GatewayError.to_json().


async def _changes(request: Request) -> sessions.Auth:
    auth = auth_of(request)
    await csrf.check(request, auth)  # page sessions must send X-CSRF-Token; bearer tokens are exempt
    return auth


class Credentials(BaseModel):
    login: str = Field(max_length=200)
    password: str = Field(max_length=1024)


class Token(BaseModel):
    token: str
    token_type: str = "Bearer"
    must_change_password: bool
    idle_timeout_seconds: int
    absolute_timeout_seconds: int


@router.post("/tokens", response_model=Token)
async def issue_token(request: Request, body: Credentials) -> Any:
    gw = gw_of(request)
    user = await run_in_threadpool(authn.login, gw, body.login, body.password, terminal=terminal_of(request),
                                   terminal_owner=request.scope["state"].get("terminal_owner"),
                                   source=source_of(request), limits=request.app.state.limits)
    token, _ = await run_in_threadpool(sessions.create, gw, user, kind="api", terminal=terminal_of(request),
                                       source=source_of(request))
    return Token(token=token, must_change_password=bool(user.must_change_password),
                 idle_timeout_seconds=int(sessions.IDLE.total_seconds()),
                 absolute_timeout_seconds=int(sessions.ABSOLUTE.total_seconds()))


@secured.post("/logout", status_code=204)
async def api_logout(request: Request) -> Response:
    auth = await _changes(request)
    gw = gw_of(request)
    await run_in_threadpool(sessions.end, gw, auth.token_sha256)
    await run_in_threadpool(gw.record, Event(action="auth.logout", channel="lgwan-asp", actor=actor_of(auth),
                                             source=auth.source))
    return Response(status_code=204)


class PasswordChange(BaseModel):
    current: str = Field(max_length=1024)
    new: str = Field(max_length=1024)


@secured.post("/password", status_code=204)
async def api_password(request: Request, body: PasswordChange) -> Response:
    auth = await _changes(request)
    gw = gw_of(request)
    await run_in_threadpool(authn.change_password, gw, auth.user_id, body.current, body.new, body.new,
                            actor=actor_of(auth), source=auth.source)
    await run_in_threadpool(sessions.end_all_for, gw, auth.user_id, keep=auth.token_sha256)
    return Response(status_code=204)


@secured.get("/me")
async def me(request: Request) -> dict[str, Any]:
    auth = auth_of(request)
    return {"login": auth.login, "name": auth.name, "org": auth.org, "role": auth.role, "terminal": auth.terminal}


@secured.get("/transfers")
async def list_transfers(request: Request) -> Any:
    auth = auth_of(request)
    gw = gw_of(request)
    if auth.role == "staff":
        return await run_in_threadpool(queries.sent_by, gw, auth.org)
    if auth.role == "contractor":
        return await run_in_threadpool(queries.addressed_to, gw, auth.org, auth.login)
    raise await refused(request, "portal.forbidden", Forbidden(
        "送付一覧は職員と受託者だけが見られます。", f"role {auth.role} has no list of transfers."))


@secured.get("/transfers/{transfer_id}")
async def get_transfer(request: Request, transfer_id: str) -> Any:
    auth = auth_of(request)
    side = {"staff": "sender", "contractor": "recipient"}.get(auth.role)
    row = await run_in_threadpool(queries.own_transfer, gw_of(request), transfer_id, org=auth.org,
                                  side=side, login=auth.login) if side else None
    if row is None:
        raise await refused(request, "transfer.show", NotFound(
            f"受け渡し「{transfer_id}」は見つかりません。", f"no transfer '{transfer_id}'."))
    return row


# The Idempotency-Key header is documented here, not declared as a FastAPI parameter: a malformed
# one is refused by sending.py through the one refusal path (logged, Japanese first), not by
# FastAPI's own 422.
@secured.post("/transfers", openapi_extra={"parameters": [{
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "A client's name for this send, the same on each retry: a retry after the first one was "
                   "recorded is refused 409 naming the transfer it made (the passphrase is shown once).",
    "schema": {"type": "string", "pattern": f"^{IDEMPOTENCY_KEY.pattern}$"}}],
    "requestBody": {"content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["approval", "recipient", "profile", "password_delivery", "file"],
    "properties": {"approval": {"type": "string"}, "recipient": {"type": "string"}, "profile": {"type": "string"},
                   "password_delivery": {"type": "string", "enum": ["hand", "registered-mail"]},
                   "record_fiscal_year": {"type": "string", "pattern": "^[0-9]{4}$"},
                   "file": {"type": "string", "format": "binary"}}}}}, "required": True}})
async def api_send(request: Request) -> Any:
    """Staff: send a recipient file. The passphrase is in this answer once and nowhere else
    (like `gateway send --json`); it must reach the contractor apart from the data."""
    auth = await require(request, "staff")
    await csrf.check(request, auth)
    try:
        o = await upload_and_send(request, auth, expected_csrf=None)
    except ClientDisconnect:
        return Response(status_code=400)
    if o.sent is None:
        assert o.error is not None
        # A retry under the same Idempotency-Key names the transfer the first attempt made (409).
        earlier = {"transfer": o.error.transfer} if isinstance(o.error, AlreadySent) else {}
        return JSONResponse({**o.error.to_json(), "filename": o.filename, **earlier}, status_code=status_of(o.error))
    s = o.sent
    return {"transfer": s.transfer, "records": s.sent.record_count, "sha256": s.sent.sha256,
            "package_sha256": s.package_sha256, "evidence": s.evidence, "removed": dict(s.sent.removed),
            "passphrase": s.passphrase, "filename": o.filename, "notice_html": o.notice_html}


class Dispatch(BaseModel):
    method: str = Field(max_length=32)
    tracking: str | None = Field(default=None, max_length=100)


@secured.post("/transfers/{transfer_id}/dispatch")
async def api_dispatch(request: Request, transfer_id: str, body: Dispatch) -> Any:
    await require(request, "staff")
    auth = await _changes(request)
    notice_id = await run_in_threadpool(notices.dispatch, gw_of(request), auth.caller(), transfer_id,
                                        method=body.method, tracking=body.tracking)
    return {"notice": notice_id}


@secured.get("/transfers/{transfer_id}/package", response_class=Response,
             responses={200: {"content": {"application/octet-stream": {}}}})
async def api_package(request: Request, transfer_id: str) -> Response:
    return await stream_package(request, transfer_id)


class ReceiptIn(BaseModel):
    records: int = Field(ge=0)
    sha256: str = Field(max_length=64)


@secured.post("/transfers/{transfer_id}/receipt")
async def api_receipt(request: Request, transfer_id: str, body: ReceiptIn) -> Any:
    await require(request, "contractor")
    auth = await _changes(request)
    r = await run_in_threadpool(confirm_receipt, gw_of(request), auth.caller(), transfer_id,
                                record_count=body.records, sha256=body.sha256)
    return JSONResponse({"transfer": r.transfer, "matches": r.matches, "evidence": r.evidence},
                        status_code=200 if r.matches else 422)


class IncidentIn(BaseModel):
    transfer: str | None = Field(default=None, max_length=64)
    incident: str | None = Field(default=None, max_length=64)  # answering the city's open incident
    content: str = Field(max_length=4000)
    records: int = Field(ge=0, le=1_000_000_000)
    place: str = Field(max_length=4000)
    circumstances: str = Field(max_length=4000)
    occurred_at: datetime


@secured.post("/incidents")
async def api_incident(request: Request, body: IncidentIn) -> Any:
    """An incident report (内容・件数・発生場所・発生状況): a handler's about its transfer, or city staff's."""
    auth = await _changes(request)
    at = body.occurred_at if body.occurred_at.tzinfo else body.occurred_at.replace(tzinfo=JST)
    facts = incidents.Facts(content=body.content, records=body.records, place=body.place,
                            circumstances=body.circumstances, occurred_at=at)
    found = await run_in_threadpool(lambda: incidents.report(gw_of(request), auth.caller(), facts,
                                                             transfer=body.transfer, incident=body.incident))
    return {"incident": found}


class DeletionIn(BaseModel):
    items: str = Field(max_length=1000)
    media: str = Field(max_length=1000)
    quantity: int = Field(ge=1)
    method: str = Field(max_length=1000)
    planned_date: date


@secured.post("/transfers/{transfer_id}/deletions")
async def api_deletion(request: Request, transfer_id: str, body: DeletionIn) -> Any:
    await require(request, "contractor")
    auth = await _changes(request)
    did = await run_in_threadpool(deletion.request, gw_of(request), auth.caller(), transfer_id,
                                  deletion.DeletionRequest(body.items, body.media, body.quantity, body.method,
                                                           body.planned_date))
    return {"deletion": did}


class PersonIn(BaseModel):
    name: str = Field(max_length=200)
    title: str = Field(max_length=200)


class CertificateIn(BaseModel):
    erased_at: datetime
    media_manufacturer: str = Field(max_length=200)
    media_model: str = Field(max_length=200)
    media_serial_or_location: str = Field(max_length=200)
    sanitisation: str = Field(max_length=16)
    technique: str = Field(max_length=500)
    tool: str = Field(max_length=200)
    verification: str = Field(max_length=500)
    sanitised_by: PersonIn
    verified_by: PersonIn
    place: str = Field(max_length=200)


@secured.post("/deletions/{deletion_id}/certificate")
async def api_certificate(request: Request, deletion_id: str, body: CertificateIn) -> Any:
    await require(request, "contractor")
    auth = await _changes(request)
    erased = body.erased_at if body.erased_at.tzinfo else body.erased_at.replace(tzinfo=JST)
    cert = deletion.ErasureCertificate(
        erased_at=erased, media_manufacturer=body.media_manufacturer, media_model=body.media_model,
        media_serial_or_location=body.media_serial_or_location, sanitisation=body.sanitisation,
        technique=body.technique, tool=body.tool, verification=body.verification,
        sanitised_by=deletion.Person(body.sanitised_by.name, body.sanitised_by.title),
        verified_by=deletion.Person(body.verified_by.name, body.verified_by.title), place=body.place)
    doc = await run_in_threadpool(deletion.certify, gw_of(request), auth.caller(), deletion_id, cert)
    return {"evidence": doc}


@secured.get("/log")
async def api_log(request: Request) -> Any:
    auth = await require(request, "security-officer")
    try:
        f = log_filter(request.query_params)
    except ValueError:
        raise await refused(request, "log.read", Invalid(
            "日時の形式が正しくありません。YYYY-MM-DDTHH:MM で指定してください。",
            "bad time format; use YYYY-MM-DDTHH:MM.")) from None
    return await run_in_threadpool(queries.log_entries, gw_of(request), auth.org, f)


@secured.get("/chain")
async def api_chain(request: Request) -> Any:
    await require(request, "security-officer")
    return await run_in_threadpool(queries.chain_status, gw_of(request))


@secured.get("/approvals")
async def api_approvals(request: Request) -> Any:
    auth = await require(request, "security-officer")
    return await run_in_threadpool(queries.approval_states, gw_of(request), auth.org)


@secured.get("/approvals/{approval_id}/report")
async def api_report(request: Request, approval_id: str) -> Any:
    auth = await require(request, "security-officer")
    return await run_in_threadpool(audit_report, gw_of(request), auth, approval_id[:64])
