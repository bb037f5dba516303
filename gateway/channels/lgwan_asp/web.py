"""What the page modules share: templates, the caller, role checks and error pages."""
from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from gateway.channels.lgwan_asp import i18n
from gateway.channels.lgwan_asp.sessions import Auth
from gateway.clock import to_jst
from gateway.errors import GatewayError
from gateway.ledger.log import Actor, Event
from gateway.service import Gateway
from gateway.store.db import DatabaseBusy

TEMPLATES = Path(__file__).parent / "templates"
ENV = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                  trim_blocks=True, lstrip_blocks=True)
def _jst(at: datetime | str | None) -> str:
    """A stored UTC time (or its ISO text, as evidence bodies hold it) in JST, as people read it."""
    if at is None or at == "":
        return "-"
    return f"{to_jst(datetime.fromisoformat(at) if isinstance(at, str) else at):%Y-%m-%d %H:%M}"


ENV.filters["jst"] = _jst
_log = logging.getLogger("gateway.portal")

ROLE_HOME = {"staff": "/staff", "contractor": "/contractor", "security-officer": "/officer"}


def gw_of(request: Request) -> Gateway:
    return request.app.state.gw  # type: ignore[no-any-return]


def auth_of(request: Request) -> Auth:
    auth = request.scope.get("state", {}).get("auth")
    if auth is None:  # the guard lets no unauthenticated request reach a route that asks for this
        raise HTTPException(status_code=401)
    return auth  # type: ignore[no-any-return]


def source_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def terminal_of(request: Request) -> str:
    return str(request.scope.get("state", {}).get("terminal") or "")


async def require(request: Request, role: str) -> Auth:
    """The caller, if their role may use this part of the portal; a refusal is logged."""
    auth = auth_of(request)
    if auth.role != role:
        await run_in_threadpool(gw_of(request).record, Event(
            action="portal.forbidden", channel="lgwan-asp",
            actor=Actor(user=auth.login, org=auth.org, role=auth.role, terminal=auth.terminal),
            source=auth.source, outcome="refused", reason=f"role {auth.role} may not use {request.url.path}"))
        raise HTTPException(status_code=403, detail="role")
    return auth


def actor_of(auth: Auth) -> Actor:
    return Actor(user=auth.login, org=auth.org, role=auth.role, terminal=auth.terminal)


def render(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    lang = i18n.lang_of(request)
    auth = request.scope.get("state", {}).get("auth")
    html = ENV.get_template(name).render(
        t=i18n.Tr(lang), lang=lang, auth=auth, path=request.url.path, role_home=ROLE_HOME, **ctx)
    response = HTMLResponse(html, status_code=status)
    if request.query_params.get("lang") in i18n.LANGS:
        response.set_cookie(i18n.COOKIE, lang, secure=True, httponly=True, samesite="strict", path="/")
    return response


def error_page(request: Request, err: GatewayError | None, status: int, *, title_ja: str = "エラー",
               title_en: str = "Error") -> HTMLResponse:
    if isinstance(err, DatabaseBusy):  # whoever caught it: not the person's fault, and transient
        return busy_page(request, err)
    return render(request, "error.html", status=status, err=err, title_ja=title_ja, title_en=title_en)


# How long a client should wait after a 503 (the database stayed busy past its timeout). A few
# seconds lets the queue of writers drain; the simulator's client waits this long and retries.
RETRY_AFTER_SECONDS = 3


def busy_page(request: Request, err: DatabaseBusy) -> Response:
    """503 with Retry-After: as JSON for the API, as a page otherwise; Japanese first either way."""
    _log.warning("database busy past its timeout: %s %s answered 503", request.method, request.url.path)
    if request.url.path.startswith("/api/"):
        return busy_json(err)
    response = render(request, "error.html", status=503, err=err, title_ja="混雑中", title_en="Busy")
    response.headers["retry-after"] = str(RETRY_AFTER_SECONDS)
    return response


def busy_json(err: DatabaseBusy) -> JSONResponse:
    return JSONResponse({"error": "busy", "ja": err.ja, "en": err.en, "retry_after_seconds": RETRY_AFTER_SECONDS},
                        status_code=503, headers={"retry-after": str(RETRY_AFTER_SECONDS)})
