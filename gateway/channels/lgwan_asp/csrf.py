"""CSRF: every state-changing request carries the session's token (a hidden form field, or the
X-CSRF-Token header for script calls). Bearer-token API calls are exempt: browsers never attach
an Authorization header by themselves, so a forged cross-site request cannot carry one."""
from __future__ import annotations

import hmac
import secrets

from fastapi import Request

from gateway.channels.lgwan_asp.sessions import Auth
from gateway.channels.lgwan_asp.web import refused
from gateway.errors import Forbidden

FIELD = "csrf"
HEADER = "x-csrf-token"
LOGIN_COOKIE = "__Host-login-csrf"  # before a session exists: a double-submit token for the login form


def matches(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


async def check(request: Request, auth: Auth, form_value: str | None = None) -> None:
    """Refused (and logged) unless the request carries the session's token."""
    if auth.kind == "api":
        return
    given = form_value if form_value is not None else request.headers.get(HEADER)
    if not matches(auth.csrf, given):
        raise await refused(request, "portal.csrf", form_expired())


async def form(request: Request, auth: Auth) -> dict[str, str]:
    """The urlencoded form of a POST, after its CSRF token was checked."""
    data = await request.form(max_files=0, max_fields=50)
    values = {k: v for k, v in data.items() if isinstance(v, str)}
    await check(request, auth, values.get(FIELD, ""))
    return values


def form_expired() -> Forbidden:
    """The form's token is missing or wrong: to the person, the page they had is stale."""
    return Forbidden("画面の有効期限が切れました。画面を開き直してください。", "the form expired; open the page again.")


def new_login_token() -> str:
    return secrets.token_urlsafe(24)
