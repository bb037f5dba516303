"""The portal application: FastAPI with server-rendered pages and the JSON API, for one Gateway."""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.channels.lgwan_asp import (
    admin,
    api,
    attestations,
    contractor,
    decisions,
    deliverables,
    incident_pages,
    login,
    officer,
    staff,
    staff_checks,
)
from gateway.channels.lgwan_asp.auth import Limits
from gateway.channels.lgwan_asp.confirming import StagedUploads
from gateway.channels.lgwan_asp.guard import Guard
from gateway.channels.lgwan_asp.headers import HEADERS, HeadAsGet, SecurityHeaders
from gateway.channels.lgwan_asp.vault import NoticeVault
from gateway.channels.lgwan_asp.web import error_response, refused, render
from gateway.errors import GatewayError, Invalid
from gateway.service import Gateway
from gateway.settings import PortalSettings

STATIC = Path(__file__).parent / "static"

MESSAGES = {
    400: ("要求が正しくありません。", "bad request."),
    401: ("ログインが必要です。", "authentication required."),
    403: ("この操作は許可されていません。画面を開き直してください。", "this is not allowed; reload the page."),
    404: ("ページが見つかりません。", "page not found."),
    405: ("この方法では使えません。", "method not allowed."),
    413: ("送信データが大きすぎます。", "the request is too large."),
    422: ("入力内容を確認してください。", "check what you entered."),
}

UNEXPECTED = GatewayError(
    "予期しないエラーが発生しました。操作が完了していない可能性があります。時間をおいてやり直し、続く場合は管理者に連絡してください。",
    "an unexpected error occurred; the operation may not have completed. Try again later, and tell the "
    "administrator if it persists.")


def create_app(gw: Gateway, settings: PortalSettings | None = None) -> FastAPI:
    """The portal on `gw`, with the installation's `[portal]` settings unless others are given."""
    app = FastAPI(title="LGWAN-ASP 専用ページ API / dedicated page API", version="1",
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.gw = gw
    app.state.settings = settings = settings or gw.settings.portal
    app.state.limits = Limits.of(settings)
    app.state.notices = NoticeVault()
    app.state.staged = StagedUploads()

    for router in (login.router, admin.router, staff_checks.router, incident_pages.router, staff.router,
                   decisions.pages, contractor.router, deliverables.pages, officer.router,
                   api.router, api.secured, deliverables.api, decisions.api, attestations.api):
        app.include_router(router)

    @app.get("/static/portal.css", include_in_schema=False)
    async def css() -> Response:
        return FileResponse(STATIC / "portal.css", media_type="text/css")

    @app.get("/static/upload.js", include_in_schema=False)
    async def js() -> Response:
        return FileResponse(STATIC / "upload.js", media_type="text/javascript")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        ja, en = MESSAGES.get(exc.status_code, ("エラーが発生しました。", "an error occurred."))
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc.detail), "ja": ja, "en": en}, status_code=exc.status_code)
        return render(request, "error.html", status=exc.status_code, err=GatewayError(ja, en), title_ja="エラー",
                      title_en="Error")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        # The validation detail may echo what was sent (a password): name the fields only.
        fields = sorted({".".join(str(p) for p in e.get("loc", ())[1:]) for e in exc.errors()})
        err = await refused(request, "portal.request", Invalid(
            f"入力内容を確認してください（{', '.join(fields)}）。", f"check the fields: {', '.join(fields)}."))
        return JSONResponse({**err.to_json(), "fields": fields}, status_code=422)

    @app.exception_handler(GatewayError)
    async def answer_refusal(request: Request, exc: GatewayError) -> Response:
        # Raised from any route: the operation's attempt has logged it (a refusal) and rolled back
        # what it did; busy and unavailable say 503 with Retry-After.
        return error_response(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # Starlette's outermost middleware calls this, sends the answer, then raises the exception
        # again for uvicorn, which logs it with its traceback on the server's side. The person
        # gets no detail of it. This answer passes outside SecurityHeaders: add them here.
        if isinstance(exc, GatewayError):
            response = error_response(request, exc)
        elif request.url.path.startswith("/api/"):
            response = JSONResponse({"error": "internal", "ja": UNEXPECTED.ja, "en": UNEXPECTED.en}, status_code=500)
        else:
            try:
                response = render(request, "error.html", status=500, err=UNEXPECTED, title_ja="エラー", title_en="Error")
            except Exception:  # the page itself failed to render: plain text, still bilingual
                response = PlainTextResponse(str(UNEXPECTED), status_code=500)
        response.headers.update({k.decode(): v.decode() for k, v in HEADERS if k.decode() not in response.headers})
        response.headers.setdefault("cache-control", "no-store")
        return response

    # Outermost first: headers on everything, then the default-deny guard before routing.
    app.add_middleware(Guard, gw=gw)
    app.add_middleware(HeadAsGet)
    app.add_middleware(SecurityHeaders)
    return app
