"""The LGWAN-ASP portal's JSON API (`/api/v1`) from the handler's designated terminal.

The terminal certificate comes as the PKCS#12 file the city issued (`gateway terminal issue`): its
key and certificate are presented in the TLS handshake (mutual TLS), and the city's CA inside it
is the only authority the portal's own certificate is checked against. Then the handler logs in
(POST /api/v1/tokens) and acts with the bearer token; the session ends when the client closes.

A refusal comes back as `{"error", "category", "kinds", "ja", "en"}` and is raised again as the
GatewayError it was (`error_from_json`); a 503 is tried again after its Retry-After, a few times.
"""
from __future__ import annotations

import contextlib
import io
import os
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from gateway.attestations.document import Envelope
from gateway.errors import Forbidden, GatewayError, Invalid, Unavailable, error_from_json

API = "/api/v1"
TIMEOUT = httpx.Timeout(900.0, connect=30.0)
CHUNK = 1024 * 1024
BUSY_RETRIES = 4
MAX_RETRY_AFTER = 30


def terminal_context(p12: bytes, password: bytes) -> tuple[ssl.SSLContext, str, str]:
    """A TLS context presenting the terminal certificate and trusting only the CA issued with it;
    and the login and organisation the certificate names."""
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(p12, password)
    except ValueError:
        raise Invalid("端末証明書（PKCS#12）を開けません。パスワードを確認してください。",
                      "cannot open the terminal certificate (PKCS#12): check its password.") from None
    if key is None or cert is None or not extra:
        raise Invalid("端末証明書（PKCS#12）に鍵・証明書・市の認証局が揃っていません。市に再発行を依頼してください。",
                      "the PKCS#12 file lacks the key, the certificate or the city's CA; ask the city to issue it again.")
    ctx = ssl.create_default_context(cadata="".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii")
                                                    for c in extra))
    # ssl loads a client key only from a file: a private directory, removed as soon as it is read.
    with tempfile.TemporaryDirectory(prefix="gateway-client-") as tmp:
        pem = Path(tmp) / "terminal.pem"
        fd = os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        ctx.load_cert_chain(pem)
    return ctx, _name(cert, NameOID.COMMON_NAME), _name(cert, NameOID.ORGANIZATION_NAME)


def _name(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    values = cert.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


class PortalChannel:
    def __init__(self, url: str, ctx: ssl.SSLContext, login: str, password: bytes) -> None:
        self.login = login
        self.client = httpx.Client(base_url=url.rstrip("/"), verify=ctx, timeout=TIMEOUT, follow_redirects=False)
        try:
            token = answer(post(self.client, "/tokens", {}, json={"login": login,
                                                                   "password": password.decode("utf-8")}))
        except BaseException:
            self.client.close()
            raise
        self.auth = {"authorization": f"Bearer {token['token']}"}
        if token.get("must_change_password"):
            self.close()
            raise Forbidden("初期パスワードのままです。先にブラウザで専用ページにログインし、パスワードを変更してください。",
                            "your password is still the initial one: log in to the portal in the browser and change it first.")

    def close(self) -> None:
        try:
            if getattr(self, "auth", None):
                with contextlib.suppress(httpx.HTTPError):
                    self.client.post(API + "/logout", headers=self.auth)
        finally:
            self.client.close()

    def transfers(self) -> list[dict[str, Any]]:
        r = retrying(lambda: call(lambda: self.client.get(API + "/transfers", headers=self.auth)))
        if r.status_code != 200:
            raise refusal(r)
        rows = r.json()
        return rows if isinstance(rows, list) else []

    @contextlib.contextmanager
    def package(self, transfer: str) -> Iterator[BinaryIO]:
        with self.client.stream("GET", f"{API}/transfers/{transfer}/package", headers=self.auth) as r:
            if r.status_code != 200:
                r.read()
                raise refusal(r)
            yield _Stream(r.iter_raw(CHUNK))  # type: ignore[misc]

    def file(self, envelope: Envelope) -> dict[str, Any]:
        r = post(self.client, "/attestations", self.auth, json=envelope.to_json())
        if r.status_code == 422 and json_of(r).get("matches") is False:
            return json_of(r)  # a receipt recorded as a mismatch: the caller says so
        return answer(r)

    def report_incident(self, report: dict[str, Any]) -> dict[str, Any]:
        return answer(post(self.client, "/incidents", self.auth, json=report))

    def deliver(self, transfer: str, path: Path, name: str) -> dict[str, Any]:
        with path.open("rb") as f:
            return answer(post(self.client, f"/transfers/{transfer}/deliverables", self.auth,
                               files={"file": (name, f, "application/octet-stream")}))


class _Stream(io.RawIOBase):
    """An HTTP body as a file read once from the front."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._rest = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._rest:
            try:
                chunk = next(self._chunks, None)
            except httpx.HTTPError as err:
                raise Unavailable("受け取りの途中で接続が切れました。もう一度受け取ってください。",
                                  f"the connection broke during the download ({err}); download again.") from None
            if chunk is None:
                return 0
            self._rest = memoryview(chunk)
        n = min(len(buffer), len(self._rest))
        buffer[:n] = self._rest[:n]
        self._rest = self._rest[n:]
        return n


# -- requests, as every client of the API makes them (the simulator's people too) ---------------------

def post(client: httpx.Client, path: str, auth: dict[str, str], **kw: Any) -> httpx.Response:
    def send() -> httpx.Response:
        for _, f, *_ in (kw.get("files") or {}).values():
            if hasattr(f, "seek"):
                f.seek(0)  # a retried upload sends the whole file again
        return client.post(API + path, headers=auth, **kw)
    return retrying(lambda: call(send))


def retrying(do: Callable[[], httpx.Response]) -> httpx.Response:
    """`do()`, again after the wait a 503's Retry-After asks for (the gateway's database was busy
    and nothing was changed), a few times; the last answer is returned whatever it is."""
    for _ in range(BUSY_RETRIES):
        r = do()
        if r.status_code != 503 or not r.headers.get("retry-after", "").isdigit():
            return r
        r.close()
        time.sleep(min(int(r.headers["retry-after"]), MAX_RETRY_AFTER))
    return do()


def call(do: Callable[[], httpx.Response]) -> httpx.Response:
    """`do()`, with a failure of the connection itself told as a GatewayError."""
    try:
        return do()
    except httpx.HTTPError as err:
        raise Unavailable("ポータルとの通信に失敗しました。接続先と端末証明書を確認してください。",
                          f"the connection to the portal failed: {err}") from None


def json_of(r: httpx.Response) -> dict[str, Any]:
    try:
        body = r.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def answer(r: httpx.Response) -> dict[str, Any]:
    if not 200 <= r.status_code < 300:
        raise refusal(r)
    return json_of(r)


def refusal(r: httpx.Response) -> GatewayError:
    """The portal's refusal as the GatewayError it was: its category, kinds and every reason."""
    return error_from_json(json_of(r), fallback_ja=f"ポータルが要求を拒否しました（HTTP {r.status_code}）。",
                           fallback_en=f"the portal refused the request (HTTP {r.status_code}): {r.text[:200]}")
