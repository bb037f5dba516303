"""Login, logout, the forced password change and the start page."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gateway.channels.lgwan_asp import auth as authn
from gateway.channels.lgwan_asp import csrf, sessions
from gateway.channels.lgwan_asp.web import (
    ROLE_HOME,
    actor_of,
    auth_of,
    gw_of,
    refused,
    render,
    source_of,
    status_of,
    terminal_of,
)
from gateway.errors import Category, Forbidden, GatewayError
from gateway.ledger.log import Event

router = APIRouter(include_in_schema=False)


def _login_page(request: Request, error: GatewayError | None = None) -> Response:
    status = 200 if error is None else status_of(error)
    # Reuse the token the browser holds: a stray request (the favicon) redirected here must not
    # replace the cookie under a form that is already on screen.
    kept = request.cookies.get(csrf.LOGIN_COOKIE, "")
    token = kept if 20 <= len(kept) <= 64 and kept.replace("-", "").replace("_", "").isalnum() else csrf.new_login_token()
    response = render(request, "login.html", status=status, login_csrf=token, error=error)
    response.set_cookie(csrf.LOGIN_COOKIE, token, secure=True, httponly=True, samesite="strict", path="/")
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login_post(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    if not csrf.matches(request.cookies.get(csrf.LOGIN_COOKIE), str(form.get(csrf.FIELD, ""))):
        return _login_page(request, await refused(request, "auth.login", Forbidden(
            "画面の有効期限が切れました。もう一度ログインしてください。", "the form expired; log in again.")))
    gw = gw_of(request)
    terminal = terminal_of(request)
    try:
        user = await run_in_threadpool(
            authn.login, gw, str(form.get("login", ""))[:200], str(form.get("password", ""))[:1024],
            terminal=terminal, terminal_owner=request.scope["state"].get("terminal_owner"),
            source=source_of(request), limits=request.app.state.limits)
    except GatewayError as err:
        if err.category not in (Category.UNAUTHENTICATED, Category.UNAVAILABLE):  # unavailable: the directory
            raise
        return _login_page(request, err)
    token, _ = await run_in_threadpool(sessions.create, gw, user, kind="web", terminal=terminal,
                                       source=source_of(request))
    target = "/password" if user.must_change_password else ROLE_HOME.get(user.role, "/password")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(sessions.COOKIE, token, secure=True, httponly=True, samesite="strict", path="/")
    response.delete_cookie(csrf.LOGIN_COOKIE, secure=True, httponly=True, samesite="strict", path="/")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    auth = auth_of(request)
    await csrf.form(request, auth)
    gw = gw_of(request)
    await run_in_threadpool(sessions.end, gw, auth.token_sha256)
    await run_in_threadpool(gw.record, Event(action="auth.logout", channel="lgwan-asp", actor=actor_of(auth),
                                             source=auth.source))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(sessions.COOKIE, secure=True, httponly=True, samesite="strict", path="/")
    return response


@router.get("/password")
async def password_form(request: Request) -> Response:
    return render(request, "password.html", error=None)


@router.post("/password")
async def password_post(request: Request) -> Response:
    auth = auth_of(request)
    form = await csrf.form(request, auth)
    gw = gw_of(request)
    try:
        await run_in_threadpool(authn.change_password, gw, auth.user_id, form.get("current", ""),
                                form.get("new", ""), form.get("confirm", ""), actor=actor_of(auth),
                                source=auth.source)
    except GatewayError as err:
        return render(request, "password.html", status=status_of(err), error=err)
    await run_in_threadpool(sessions.end_all_for, gw, auth.user_id, keep=auth.token_sha256)
    return RedirectResponse(ROLE_HOME.get(auth.role, "/"), status_code=303)


@router.get("/")
async def home(request: Request) -> Response:
    auth = auth_of(request)
    target = ROLE_HOME.get(auth.role)
    if target is None:
        raise await refused(request, "portal.forbidden", Forbidden("この役割で使える画面はありません。",
                                                                     "no portal pages for this role."))
    return RedirectResponse(target, status_code=303)
