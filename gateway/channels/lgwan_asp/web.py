"""What the page modules share: templates, the caller, role checks and error pages."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from gateway.channels.lgwan_asp import i18n, labels
from gateway.channels.lgwan_asp.sessions import Auth
from gateway.core.records.fields import header_label
from gateway.errors import Category, Forbidden, GatewayError
from gateway.ledger.log import Actor
from gateway.operations.attempt import refuse
from gateway.service import Gateway

CHANNEL = "lgwan-asp"

TEMPLATES = Path(__file__).parent / "templates"
ENV = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                  trim_blocks=True, lstrip_blocks=True)
# A stored UTC time (or its ISO text, as evidence bodies hold it) in JST, as people read it.
ENV.filters["jst"] = labels.jst_words
ENV.filters["bytes"] = labels.byte_size
ENV.filters["column"] = header_label  # a column id as the Japanese header people know
_log = logging.getLogger("gateway.portal")

ROLE_HOME = {"staff": "/staff", "contractor": "/contractor", "security-officer": "/officer", "admin": "/admin"}


def gw_of(request: Request) -> Gateway:
    return request.app.state.gw


def auth_of(request: Request) -> Auth:
    auth = request.scope.get("state", {}).get("auth")
    if auth is None:  # the guard lets no unauthenticated request reach a route that asks for this
        raise HTTPException(status_code=401)
    return auth


def source_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def terminal_of(request: Request) -> str:
    return str(request.scope.get("state", {}).get("terminal") or "")


async def require(request: Request, role: str) -> Auth:
    """The caller, if their role may use this part of the portal; a refusal is logged."""
    auth = auth_of(request)
    if auth.role != role:
        raise await refused(request, "portal.forbidden", Forbidden(
            "この画面は、あなたの役割では使えません。", f"role {auth.role} may not use {request.url.path}"))
    return auth


async def refused(request: Request, action: str, err: GatewayError) -> GatewayError:
    """A refusal of the portal's own (a role, a form token), logged by the one path that logs
    refusals; returns `err` for the caller to raise."""
    auth = request.scope.get("state", {}).get("auth")
    who = actor_of(auth) if auth is not None else Actor(terminal=terminal_of(request) or None)
    return await run_in_threadpool(refuse, gw_of(request), who, action, err, channel=CHANNEL,
                                   source=source_of(request))


def actor_of(auth: Auth) -> Actor:
    return Actor(user=auth.login, org=auth.org, role=auth.role, terminal=auth.terminal)


def _same_site(path: str) -> str:
    """The request's path for links back to it, as a path on this site: `//evil.example/x` (a
    scheme-relative URL a browser would follow off-site) or a backslash variant becomes `/`."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or any(c < " " for c in path):
        return "/"
    return path


def render(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    lang = i18n.lang_of(request)
    auth = request.scope.get("state", {}).get("auth")
    html = ENV.get_template(name).render(
        t=i18n.Tr(lang), words=labels.Words(lang), lang=lang, auth=auth, path=_same_site(request.url.path), role_home=ROLE_HOME, **ctx)
    response = HTMLResponse(html, status_code=status)
    if request.query_params.get("lang") in i18n.LANGS:
        response.set_cookie(i18n.COOKIE, lang, secure=True, httponly=True, samesite="strict", path="/")
    return response


# The one mapping of the vocabulary onto HTTP: rewording a message never changes a status.
STATUS = {
    Category.INVALID: 400, Category.UNAUTHENTICATED: 401, Category.FORBIDDEN: 403, Category.NOT_FOUND: 404,
    Category.CONFLICT: 409, Category.GONE: 410, Category.TOO_LARGE: 413, Category.REFUSED: 422,
    Category.BUSY: 503, Category.UNAVAILABLE: 503, Category.DAMAGED: 500,
}
# How long a client should wait after a 503 (the database stayed busy past its timeout). A few
# seconds lets the queue of writers drain; the simulator's client waits this long and retries.
RETRY_AFTER_SECONDS = 3
TITLES = {Category.BUSY: ("混雑中", "Busy"), Category.UNAVAILABLE: ("停止中", "Unavailable"),
          Category.DAMAGED: ("データの損傷", "Damaged")}


def status_of(err: GatewayError) -> int:
    return STATUS[err.category]


def error_response(request: Request, err: GatewayError) -> Response:
    """The answer to a refusal or failure: JSON under /api/, a page otherwise; Japanese first."""
    status = status_of(err)
    if status == 503:
        _log.warning("%s: %s %s answered 503", err.category, request.method, request.url.path)
    if request.url.path.startswith("/api/"):
        body = err.to_json()
        if status == 503:
            body["retry_after_seconds"] = RETRY_AFTER_SECONDS
        response: Response = JSONResponse(body, status_code=status)
    else:
        title_ja, title_en = TITLES.get(err.category, ("エラー", "Error"))
        response = render(request, "error.html", status=status, err=err, title_ja=title_ja, title_en=title_en)
    if status == 503:
        response.headers["retry-after"] = str(RETRY_AFTER_SECONDS)
    return response


def error_page(request: Request, err: GatewayError) -> Response:
    """A refusal answered with the error page (or JSON under /api/), whatever route caught it."""
    return error_response(request, err)
