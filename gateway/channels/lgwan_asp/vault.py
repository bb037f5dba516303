"""Password notices waiting to be printed: each is kept in memory only, for its session only,
and handed out once. The passphrase never touches the database or a log; if the page is never
opened the notice expires and the staff member reissues the transfer (the package stays sealed)."""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

TTL_SECONDS = 30 * 60


@dataclass
class _Held:
    session: str
    transfer: str
    html: str
    expires: float


class NoticeVault:
    def __init__(self) -> None:
        self._items: dict[str, _Held] = {}
        self._lock = threading.Lock()

    def put(self, session: str, transfer: str, html: str) -> str:
        key = secrets.token_urlsafe(24)
        with self._lock:
            self._sweep()
            self._items[key] = _Held(session, transfer, html, time.monotonic() + TTL_SECONDS)
        return key

    def take(self, key: str, session: str) -> tuple[str, str] | None:
        with self._lock:
            self._sweep()
            held = self._items.get(key)
            if held is None or held.session != session:
                return None
            del self._items[key]
            return held.transfer, held.html

    def _sweep(self) -> None:
        now = time.monotonic()
        for k in [k for k, v in self._items.items() if v.expires < now]:
            del self._items[k]
