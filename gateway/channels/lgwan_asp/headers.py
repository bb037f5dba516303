"""Security headers on every response, pages, API and errors alike (an ASGI middleware, so even a
response produced before routing carries them)."""
from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

# No inline script or style anywhere: the only script is /static/upload.js (the progress bar). The one
# exception is the password notice's own <style>, allowed by its hash (csp_for_document).
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

_STYLE = re.compile(r"<style(?:\s[^>]*)?>(.*?)</style>", re.S | re.I)


def csp_for_document(html: str) -> str:
    """The policy for a self-contained document the gateway itself rendered (the password notice,
    printed from the browser): its own <style> blocks are allowed by their SHA-256, nothing else."""
    hashes = " ".join("'sha256-" + base64.b64encode(hashlib.sha256(m.group(1).encode("utf-8")).digest()).decode()
                      + "'" for m in _STYLE.finditer(html))
    return CSP.replace("style-src 'self'", f"style-src 'self' {hashes}" if hashes else "style-src 'self'")


HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def add(message: dict) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [h for h in HEADERS if h[0] not in names]
                if not static and b"cache-control" not in names:
                    # Pages show personal data and one-time secrets: never kept by a cache.
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, add)


# GETs that hand something out once or are themselves logged acts (a download, a notice, an export,
# an audit run): a HEAD must not consume or record them, so it is answered 405 with `Allow: GET`.
_HEAD_REFUSED = re.compile(r"(/package$|/notices/|/handout/|^/officer/log\.|^/officer/report|/deliverables/[^/]+$)")


class HeadAsGet:
    """HEAD answered wherever GET is (RFC 9110): the GET's status and headers without its body."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        if _HEAD_REFUSED.search(scope["path"]):
            await send({"type": "http.response.start", "status": 405,
                        "headers": [(b"allow", b"GET"), (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return

        async def headers_only(message: dict) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b""})
                return
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
