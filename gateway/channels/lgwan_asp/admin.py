"""Administration under /admin, for the admin role only (terminal certificate and password, as for
everyone): accounts and their lifecycle, terminal certificates, SSH keys, approvals (registered
from an uploaded TOML file with the same strict checks as the command line, handler lists amended
under the city's decision) and organisations. Every act goes through the operation the command
line uses, so it is logged the same way and the city's security officer sees it."""
from __future__ import annotations

import base64
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gateway.channels.lgwan_asp import admin_views, csrf, terminals
from gateway.channels.lgwan_asp.auth import issue_initial_password
from gateway.channels.lgwan_asp.sessions import Auth
from gateway.channels.lgwan_asp.web import CHANNEL, actor_of, gw_of, refused, render, require, status_of
from gateway.errors import GatewayError, Invalid, NotFound, TooLarge
from gateway.operations import lifecycle
from gateway.operations.accounts import ROLES
from gateway.operations.approvals import add_approval
from gateway.operations.handlers import amend_handlers
from gateway.operations.sshkeys import add_key, revoke_key
from gateway.operations.users import register_user

router = APIRouter(prefix="/admin", include_in_schema=False)
APPROVAL_MAX_BYTES = 256 * 1024


async def _admin(request: Request) -> Auth:
    return await require(request, "admin")


def _done(path: str, what: str) -> Response:
    return RedirectResponse(f"{path}?done={quote(what)}", status_code=303)


async def _act(request: Request, auth: Auth, fn: Callable[[], Any]) -> GatewayError | None:
    """Run one administrative operation off the event loop; its refusal (already logged) is returned."""
    try:
        await run_in_threadpool(fn)
    except GatewayError as err:
        return err
    return None


@router.get("")
async def users_page(request: Request) -> Response:
    await _admin(request)
    return await _users(request)


async def _users(request: Request, message: GatewayError | None = None) -> Response:
    rows = await run_in_threadpool(admin_views.users, gw_of(request))
    orgs = await run_in_threadpool(admin_views.organisations, gw_of(request))
    return render(request, "admin_users.html", status=status_of(message) if message else 200, users=rows, orgs=orgs,
                  roles=ROLES, message=message, done=request.query_params.get("done"))


@router.post("/users")
async def add_user(request: Request) -> Response:
    auth = await _admin(request)
    form = await csrf.form(request, auth)
    login = form.get("login", "").strip()[:64]
    err = await _act(request, auth, lambda: register_user(
        gw_of(request), login=login, name=form.get("name", "").strip()[:200], org=form.get("org", "")[:64],
        role=form.get("role", "")[:24], actor=actor_of(auth), channel=CHANNEL))
    return await _users(request, err) if err else _done(f"/admin/users/{quote(login)}", "user.add")


@router.get("/users/{login}")
async def user_page(request: Request, login: str) -> Response:
    await _admin(request)
    return await _user(request, login)


async def _user(request: Request, login: str, message: GatewayError | None = None,
                issued: dict[str, str] | None = None) -> Response:
    row = await run_in_threadpool(admin_views.user, gw_of(request), login)
    if row is None:
        raise await refused(request, "user.show", NotFound(f"利用者「{login[:64]}」は登録されていません。",
                                                             f"no account '{login[:64]}'."))
    return render(request, "admin_user.html", status=status_of(message) if message else 200, u=row, message=message,
                  done=request.query_params.get("done"), issued=issued, methods=lifecycle.DELIVERY_METHODS)


@router.post("/users/{login}/{act}")
async def user_act(request: Request, login: str, act: str) -> Response:
    auth = await _admin(request)
    form = await csrf.form(request, auth)
    gw, who, login = gw_of(request), actor_of(auth), login[:64]
    acts: dict[str, Callable[[], Any]] = {
        "disable": lambda: lifecycle.disable(gw, login, reason=form.get("reason", ""), actor=who, channel=CHANNEL),
        "enable": lambda: lifecycle.enable(gw, login, reason=form.get("reason", ""), actor=who, channel=CHANNEL),
        "unlock": lambda: lifecycle.unlock(gw, login, actor=who, channel=CHANNEL),
        "delivered": lambda: lifecycle.record_delivery(gw, login, method=form.get("method", ""),
                                                       reference=form.get("reference", ""), actor=who, channel=CHANNEL),
        "add-key": lambda: add_key(gw, login, form.get("key", "")[:8192], who, channel=CHANNEL),
        "revoke-key": lambda: revoke_key(gw, login, form.get("fingerprint", "")[:100], who, channel=CHANNEL),
        "revoke-terminal": lambda: terminals.revoke(gw, form.get("serial", "")[:40] or "-", actor=who, channel=CHANNEL),
    }
    if act == "issue-terminal":
        return await _issue_terminal(request, auth, login)
    if act == "issue-password":
        return await _issue_password(request, auth, login)
    if act not in acts:
        raise await refused(request, "portal.request", NotFound("この操作はありません。", "no such action."))
    err = await _act(request, auth, acts[act])
    return await _user(request, login, err) if err else _done(f"/admin/users/{quote(login)}", act)


async def _issue_terminal(request: Request, auth: Auth, login: str) -> Response:
    """A terminal certificate as a .p12 to download once, its import password shown once on the page."""
    gw = gw_of(request)

    def issue() -> tuple[str, str, bytes]:
        with tempfile.TemporaryDirectory(prefix="portal-terminal-") as tmp:
            done = terminals.issue(gw, login, Path(tmp), actor=actor_of(auth), channel=CHANNEL)
            return done.serial, done.p12_password, done.p12.read_bytes()

    try:
        serial, password, p12 = await run_in_threadpool(issue)
    except GatewayError as err:
        return await _user(request, login, err)
    key = request.app.state.notices.put(auth.token_sha256, f"{login}-{serial}.p12", base64.b64encode(p12).decode())
    return await _user(request, login, issued={"what": "terminal", "serial": serial, "password": password,
                                                   "download": f"/admin/handout/{key}"})


async def _issue_password(request: Request, auth: Auth, login: str) -> Response:
    try:
        password = await run_in_threadpool(lambda: issue_initial_password(gw_of(request), login, actor=actor_of(auth),
                                                                          channel=CHANNEL))
    except GatewayError as err:
        return await _user(request, login, err)
    return await _user(request, login, issued={"what": "password", "password": password})


@router.get("/handout/{key}")
async def handout(request: Request, key: str) -> Response:
    """The issued .p12, once, to the session that issued it."""
    auth = await _admin(request)
    held = request.app.state.notices.take(key[:64], auth.token_sha256)
    if held is None:
        raise await refused(request, "terminal.issue", NotFound(
            "この証明書ファイルは受け取り済みか、期限切れです。必要なら失効させて発行し直してください。",
            "this certificate file was already taken or expired; revoke it and issue another if needed."))
    name, data = held
    return Response(base64.b64decode(data), media_type="application/x-pkcs12",
                    headers={"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"})


@router.get("/approvals")
async def approvals_page(request: Request) -> Response:
    await _admin(request)
    return await _approvals(request)


async def _approvals(request: Request, message: GatewayError | None = None) -> Response:
    rows = await run_in_threadpool(admin_views.approvals, gw_of(request))
    return render(request, "admin_approvals.html", status=status_of(message) if message else 200, approvals=rows,
                  message=message, done=request.query_params.get("done"))


@router.post("/approvals")
async def register_approval(request: Request) -> Response:
    """Register an approval from an uploaded TOML file: the file is read as the command line reads
    it (strict TOML, every check the same), under its own name so messages name the user's file."""
    auth = await _admin(request)
    data = await request.form(max_files=1, max_fields=5)
    await csrf.check(request, auth, str(data.get(csrf.FIELD) or ""))
    upload = data.get("file")
    gw = gw_of(request)
    if upload is None or isinstance(upload, str) or not upload.filename:
        err: GatewayError = await refused(request, "approval.add", Invalid("承認ファイル（TOML）を選んでください。",
                                                                          "choose the approval file (TOML)."))
        return await _approvals(request, err)
    name = PurePath(upload.filename.replace("\\", "/")).name[:120] or "approval.toml"
    content = await upload.read(APPROVAL_MAX_BYTES + 1)
    if len(content) > APPROVAL_MAX_BYTES:
        err = await refused(request, "approval.add", TooLarge("承認ファイルが大きすぎます（256 KiB まで）。",
                                                              "the approval file is too large (256 KiB at most)."))
        return await _approvals(request, err)

    def register() -> str:
        with tempfile.TemporaryDirectory(prefix="portal-approval-") as tmp:
            path = Path(tmp) / name
            path.write_bytes(content)
            approval, _ = add_approval(gw, path, actor=actor_of(auth), channel=CHANNEL, shown_as=name)
            return approval.id

    try:
        approval_id = await run_in_threadpool(register)
    except GatewayError as err:
        return await _approvals(request, err)
    return _done(f"/admin/approvals/{quote(approval_id)}", "approval.add")


@router.get("/approvals/{approval_id}")
async def approval_page(request: Request, approval_id: str) -> Response:
    await _admin(request)
    return await _approval(request, approval_id)


async def _approval(request: Request, approval_id: str, message: GatewayError | None = None) -> Response:
    try:
        row = await run_in_threadpool(admin_views.approval, gw_of(request), approval_id)
    except NotFound as err:
        raise await refused(request, "approval.show", err) from None
    return render(request, "admin_approval.html", status=status_of(message) if message else 200, a=row,
                  message=message, done=request.query_params.get("done"))


@router.post("/approvals/{approval_id}/handlers")
async def amend_page(request: Request, approval_id: str) -> Response:
    auth = await _admin(request)
    form = await csrf.form(request, auth)
    added = [line.strip() for line in form.get("add", "").splitlines() if line.strip()][:20]
    removed = [line.strip() for line in form.get("remove", "").split() if line.strip()][:20]
    err = await _act(request, auth, lambda: amend_handlers(
        gw_of(request), approval_id[:64], org=form.get("org", "")[:64], add=added, remove=removed,
        decision_ref=form.get("decision_ref", ""), reason=form.get("reason", ""), actor=actor_of(auth),
        channel=CHANNEL))
    path = f"/admin/approvals/{quote(approval_id[:64])}"
    return await _approval(request, approval_id, err) if err else _done(path, "approval.amend-handlers")


@router.get("/organisations")
async def organisations_page(request: Request) -> Response:
    await _admin(request)
    rows = await run_in_threadpool(admin_views.organisations, gw_of(request))
    return render(request, "admin_orgs.html", orgs=rows)
