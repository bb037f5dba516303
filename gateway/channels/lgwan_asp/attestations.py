"""`POST /api/v1/attestations`: a handler's signed attestation, from gateway-client.

The body is the envelope `{"document": {...}, "signature": "-----BEGIN SSH SIGNATURE-----..."}`
(gateway.attestations.document). The core checks the signature against the caller's registered
key and records it with the operation of its type; the answer is the one every channel gives
(gateway.filing). A receipt whose count or checksum differs from the manifest is
recorded as such and answered 422, as the unsigned receipt route answers it.
"""
from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Security
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from gateway import filing
from gateway.attestations.document import MAX_DOCUMENT
from gateway.channels.lgwan_asp import csrf
from gateway.channels.lgwan_asp.api import bearer
from gateway.channels.lgwan_asp.web import gw_of, refused, require
from gateway.errors import Invalid, TooLarge

api = APIRouter(prefix="/api/v1", tags=["api"], dependencies=[Security(bearer)])

_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["document", "signature"],
    "properties": {"document": {"type": "object"}, "signature": {"type": "string"}}}}}}}


@api.post("/attestations", openapi_extra=_BODY)
async def file_attestation(request: Request) -> Any:
    """Contractor (designated handler): file a receipt, deletion request, erasure certificate or
    deliverable declaration signed with their own SSH key (SSHSIG, namespace gateway-attestation)."""
    auth = await require(request, "contractor")
    await csrf.check(request, auth)
    raw = await request.body()
    if len(raw) > 2 * MAX_DOCUMENT:
        raise await refused(request, filing.ACTION, TooLarge(
            "署名付き文書が大きすぎます。", f"the signed attestation is larger than {2 * MAX_DOCUMENT} bytes."))
    try:
        payload = json.loads(raw)
    except ValueError:
        raise await refused(request, filing.ACTION, Invalid(
            "JSON として読めません。gateway-client で作成してください。",
            "the body is not JSON; make the attestation with gateway-client.")) from None
    answer = await run_in_threadpool(filing.file, gw_of(request), auth.caller(), payload)
    return JSONResponse(answer, status_code=422 if answer.get("matches") is False else 200)
