"""Default deny, before routing: every request must come from an active designated terminal, and
every path except the login and two static files needs a valid session or bearer token.

Checking here, on the raw path, rather than per route means that no spelling of a path (`//x`,
`%2e%2e`, `..;/`, a trailing slash, other case) can reach a handler unauthenticated: the guard does
not need to know which spelling the router would have matched.
"""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from gateway.channels.lgwan_asp import sessions
from gateway.channels.lgwan_asp.web import CHANNEL, error_response
from gateway.errors import Forbidden, GatewayError
from gateway.ledger.log import Actor
from gateway.operations.attempt import refuse
from gateway.service import Gateway

PUBLIC = frozenset({"/login", "/static/portal.css", "/static/upload.js", "/api/v1/tokens"})
# Where an account that must change its password may still go.
CHANGE_PASSWORD = frozenset({"/password", "/logout", "/api/v1/password", "/api/v1/logout", "/static/portal.css"})


class Guard:
    def __init__(self, app: Any, gw: Gateway) -> None:
        self.app = app
        self.gw = gw

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        terminal = state.get("terminal")
        path: str = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        source = scope["client"][0] if scope.get("client") else None
        token, kind = _credential(headers)
        try:
            auth, owner = await run_in_threadpool(self._lookup, terminal, token, kind, source)
        except GatewayError as err:  # busy or unavailable: reads rarely are, but never as a 500
            await error_response(Request(scope), err)(scope, receive, send)
            return
        if terminal is None or owner is None:
            # Revoked after this connection was opened (new handshakes already fail on the CRL).
            await run_in_threadpool(refuse, self.gw, Actor(terminal=terminal), "portal.terminal", Forbidden(
                "端末証明書が無効です。", "the terminal certificate is not valid (revoked or unknown)."),
                channel=CHANNEL, source=source)
            await _plain(send, 403, "端末証明書が無効です / terminal certificate not valid")
            return
        state["terminal_owner"] = owner
        state["auth"] = auth
        if path in PUBLIC:
            await self.app(scope, receive, send)
            return
        api = path.startswith("/api/")
        # Not logged: a request with no session yet is the way in (to the login page or the token
        # endpoint), from a terminal the TLS handshake already identified.
        if auth is None:
            if api:
                await _json(send, 401, {"error": "unauthenticated", "ja": "ログインが必要です。",
                                        "en": "authentication required."},
                            [(b"www-authenticate", b'Bearer realm="gateway"')])
            else:
                await _redirect(send, "/login")
            return
        if auth.must_change_password and path not in CHANGE_PASSWORD:
            if api:
                await _json(send, 403, {"error": "password-change-required", "ja": "パスワードを変更してください。",
                                        "en": "change your password first."})
            else:
                await _redirect(send, "/password")
            return
        await self.app(scope, receive, send)

    def _lookup(self, terminal: str | None, token: str | None, kind: str,
                source: str | None) -> tuple[sessions.Auth | None, int | None]:
        if terminal is None:
            return None, None
        owner = sessions.terminal_state(self.gw, terminal)
        if owner is None:
            return None, None
        return sessions.resolve(self.gw, token, kind=kind, terminal=terminal, source=source), owner


def _credential(headers: dict[str, str]) -> tuple[str | None, str]:
    authz = headers.get("authorization", "")
    if authz[:7].lower() == "bearer ":
        return authz[7:].strip(), "api"
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == sessions.COOKIE:
            return value, "web"
    return None, "web"


async def _plain(send: Any, status: int, text: str) -> None:
    body = text.encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _json(send: Any, status: int, data: dict, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                + (extra or [])})
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Any, to: str) -> None:
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", quote(to).encode()), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
