"""Contractors: transfers addressed to their organisation only; download as a designated handler;
receipt with count and SHA-256; deletion requests and erasure certificates. Deliverables are
returned through the same transfer page (their upload is in `deliverables`)."""
from __future__ import annotations

from datetime import date, datetime
from typing import BinaryIO, cast

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from gateway.channels.lgwan_asp import csrf, downloads, queries
from gateway.channels.lgwan_asp.web import gw_of, refused, render, require, status_of
from gateway.clock import JST
from gateway.errors import GatewayError, Invalid, NotFound, Refused
from gateway.findings import Kind
from gateway.operations.receive import confirm_receipt, download
from gateway.retention import deletion

router = APIRouter(prefix="/contractor", include_in_schema=False)


def not_found(transfer_id: str) -> NotFound:
    return NotFound(f"受け渡し「{transfer_id}」は見つかりません。", f"no transfer '{transfer_id}' for your organisation.")


@router.get("")
async def transfers(request: Request) -> Response:
    auth = await require(request, "contractor")
    rows = await run_in_threadpool(queries.addressed_to, gw_of(request), auth.org, auth.login)
    return render(request, "contractor_list.html", rows=rows)


async def _page(request: Request, transfer_id: str, *, message: GatewayError | None = None,
                ok: str | None = None, delivered: str | None = None) -> Response:
    """The transfer page, with `message` (a refusal, shown with its status) or `ok` on it."""
    auth = await require(request, "contractor")
    gw = gw_of(request)
    row = await run_in_threadpool(queries.own_transfer, gw, transfer_id, org=auth.org, side="recipient", login=auth.login)
    if row is None:
        # Not this person's to see: the refusal that brought them here (already logged) on the error
        # page, or, on a plain visit, a "not found" of its own.
        raise message if message is not None else await refused(request, "transfer.show", not_found(transfer_id))
    status = 200 if message is None else status_of(message)
    returned = await run_in_threadpool(queries.deliverables_of, gw, row["id"])
    return render(request, "contractor_transfer.html", status=status, tr=row, message=message, ok=ok,
                  sanitisation=deletion.SANITISATION, deliverables=returned, delivered=delivered)


transfer_page_response = _page  # the deliverables module answers with the same page


@router.get("/transfers/{transfer_id}")
async def transfer_page(request: Request, transfer_id: str) -> Response:
    return await _page(request, transfer_id)


async def stream_package(request: Request, transfer_id: str) -> Response:
    """Shared with the API: refusals before the first byte become error answers."""
    auth = await require(request, "contractor")
    gw = gw_of(request)
    _, body = await downloads.start(lambda pipe: download(gw, auth.caller(), transfer_id, cast(BinaryIO, pipe)))
    # No Content-Length, on purpose: the chunked body ends only after download() has logged, so a
    # client that has the whole package also finds its download in the log (and its receipt
    # cannot overtake it). With the length announced the client was done a moment before the log.
    return StreamingResponse(body, media_type="application/octet-stream", headers={
        "content-disposition": downloads.content_disposition(f"{transfer_id}.age"),
        "cache-control": "no-store"})


@router.get("/transfers/{transfer_id}/package")
async def package(request: Request, transfer_id: str) -> Response:
    return await stream_package(request, transfer_id)


@router.post("/transfers/{transfer_id}/receipt")
async def receipt(request: Request, transfer_id: str) -> Response:
    auth = await require(request, "contractor")
    form = await csrf.form(request, auth)
    try:
        count = int(form.get("records", "").replace(",", "").strip())
    except ValueError:
        # Not a number at all: the core would see -1 and refuse it (and log it) as it refuses any count.
        count = -1
    try:
        result = await run_in_threadpool(confirm_receipt, gw_of(request), auth.caller(), transfer_id,
                                         record_count=count, sha256=form.get("sha256", ""))
    except GatewayError as err:
        return await _page(request, transfer_id, message=err)
    if not result.matches:
        return await _page(request, transfer_id, message=Refused.one(Kind.RECEIPT_MISMATCH,
            "件数または SHA-256 が送付時と一致しません。不一致として記録しました。復号し直して確認してください。",
            "the record count or SHA-256 differs from what was sent; recorded as a mismatch. Decrypt again and check."))
    return await _page(request, transfer_id, ok=f"受領を確認しました / receipt confirmed: {result.evidence}")


@router.post("/transfers/{transfer_id}/deletions")
async def deletion_request(request: Request, transfer_id: str) -> Response:
    auth = await require(request, "contractor")
    form = await csrf.form(request, auth)
    try:
        req = deletion.DeletionRequest(
            items=form.get("items", ""), media=form.get("media", ""), quantity=int(form.get("quantity", "0") or 0),
            method=form.get("method", ""), planned_date=date.fromisoformat(form.get("planned_date", "")))
        did = await run_in_threadpool(deletion.request, gw_of(request), auth.caller(), transfer_id, req)
    except ValueError:
        return await _page(request, transfer_id, message=await refused(request, "deletion.request", Invalid(
            "数量は整数、予定日は YYYY-MM-DD で入力してください。", "enter the quantity as a number and the date as YYYY-MM-DD.")))
    except GatewayError as err:
        return await _page(request, transfer_id, message=err)
    return await _page(request, transfer_id, ok=f"消去依頼を提出しました / deletion request filed: {did}")


@router.post("/deletions/{deletion_id}/certificate")
async def certificate(request: Request, deletion_id: str) -> Response:
    auth = await require(request, "contractor")
    form = await csrf.form(request, auth)
    transfer_id = form.get("transfer", "")
    try:
        erased = datetime.fromisoformat(form.get("erased_at", ""))
        cert = deletion.ErasureCertificate(
            erased_at=erased if erased.tzinfo else erased.replace(tzinfo=JST),
            media_manufacturer=form.get("media_manufacturer", ""), media_model=form.get("media_model", ""),
            media_serial_or_location=form.get("media_serial_or_location", ""),
            sanitisation=form.get("sanitisation", ""), technique=form.get("technique", ""),
            tool=form.get("tool", ""), verification=form.get("verification", ""),
            sanitised_by=deletion.Person(form.get("sanitised_by_name", ""), form.get("sanitised_by_title", "")),
            verified_by=deletion.Person(form.get("verified_by_name", ""), form.get("verified_by_title", "")),
            place=form.get("place", ""))
        doc = await run_in_threadpool(deletion.certify, gw_of(request), auth.caller(), deletion_id, cert)
    except ValueError:
        return await _page(request, transfer_id, message=await refused(request, "deletion.certify", Invalid(
            "消去日時は YYYY-MM-DDTHH:MM で入力してください。", "enter the erasure time as YYYY-MM-DDTHH:MM.")))
    except GatewayError as err:
        return await _page(request, transfer_id, message=err)
    return await _page(request, transfer_id, ok=f"消去証明を提出しました / erasure certificate filed: {doc}")
