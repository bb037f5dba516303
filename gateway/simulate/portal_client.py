"""The scenario's people on the LGWAN-ASP portal, as they use it: over the network, through its JSON API.

Each person works from their own designated terminal: a client certificate the gateway's CA issued
to them, presented in the TLS handshake (mutual TLS) to the portal on 127.0.0.1. They get their
initial password as by registered mail, log in with it once and make the forced change of password
over the API, then for every errand log in (POST /api/v1/tokens), act with the bearer token and log
out: the simulation's clock jumps hours and days between steps, far past a session's idle timeout.

A refusal comes back as the portal answers it, `{"error": kind, "ja", "en"}` (a refused send:
`{"error", "category", "kinds", "ja", "en"}`), and is raised again as the GatewayError the core raised
there, with its finding kind, so a step a fault expects to be refused is judged as before.
"""
from __future__ import annotations

import contextlib
import secrets
import ssl
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterator

import httpx

from gateway.channels.lgwan_asp import terminals
from gateway.channels.lgwan_asp.auth import issue_initial_password
from gateway.errors import GatewayError, Invalid, error_from_json
from gateway.fsutil import atomic_output
from gateway.ledger.log import Actor
from gateway.service import Gateway

API = "/api/v1"
OPERATOR = Actor(user="simulator", role="admin")  # who issues terminals and initial passwords
# Sends answer after the whole file is screened and encrypted (seconds per 100,000 records).
TIMEOUT = httpx.Timeout(900.0, connect=30.0)
CHUNK = 1024 * 1024
# A 503 (the gateway's database stayed busy) is tried again after its Retry-After, this often.
BUSY_RETRIES = 4
MAX_RETRY_AFTER = 30


@dataclass
class _Person:
    login: str
    password: str
    client: httpx.Client


class PortalClient:
    """The people's side of the portal at `url`; their terminal keys are kept in `terminals_dir`."""

    def __init__(self, gw: Gateway, url: str, terminals_dir: Path) -> None:
        self.gw = gw
        self.url = url
        self.dir = terminals_dir
        self.people: dict[str, _Person] = {}

    def close(self) -> None:
        for person in self.people.values():
            person.client.close()
        self.people.clear()

    # -- enrolment ---------------------------------------------------------------------------

    def enrol(self, login: str) -> None:
        """Terminal certificate and initial password from the operator, then the first login and
        the forced change of password over the API, as the person does on their first day."""
        if login in self.people:
            return
        issued = terminals.issue(self.gw, login, self.dir, actor=OPERATOR)
        ctx = ssl.create_default_context(cafile=str(self.gw.home.keys / "ca.crt"))
        ctx.load_cert_chain(issued.cert, issued.key)
        client = httpx.Client(base_url=self.url, verify=ctx, timeout=TIMEOUT, follow_redirects=False)
        try:
            initial = issue_initial_password(self.gw, login, actor=OPERATOR)
            chosen = secrets.token_urlsafe(18)
            with self._signed_in(client, login, initial, first=True) as auth:
                _answer(_post(client, "/password", auth, json={"current": initial, "new": chosen}))
        except BaseException:
            client.close()
            raise
        self.people[login] = _Person(login, chosen, client)

    @contextlib.contextmanager
    def _signed_in(self, client: httpx.Client, login: str, password: str, *,
                   first: bool = False) -> Iterator[dict[str, str]]:
        token = _answer(_post(client, "/tokens", {}, json={"login": login, "password": password}))
        if bool(token["must_change_password"]) != first:
            raise Invalid("ポータルのアカウントの状態が想定と異なります。",
                               f"the portal account '{login}' is not in the expected state.")
        auth = {"authorization": f"Bearer {token['token']}"}
        done = False
        try:
            yield auth
            done = True
        finally:
            out = _post(client, "/logout", auth)
            if done and out.status_code != 204:
                raise _refusal(out)

    @contextlib.contextmanager
    def session(self, login: str) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
        """`login` at their terminal, logged in for one errand. Accounts made after the scenario's
        set-up (an outsider a fault adds) are enrolled when they first come."""
        self.enrol(login)
        person = self.people[login]
        with self._signed_in(person.client, login, person.password) as auth:
            yield person.client, auth

    # -- errands -----------------------------------------------------------------------------

    def send(self, login: str, file: Path, *, approval: str, profile: str, recipient: str,
             password_delivery: str) -> dict[str, Any]:
        """Staff upload the recipient file from the send-only screen's API (multipart, streamed)."""
        with self.session(login) as (client, auth), file.open("rb") as f:
            answer = _post(client, "/transfers", auth, files={"file": (file.name, f, "text/csv")},
                           data={"approval": approval, "profile": profile, "recipient": recipient,
                                 "password_delivery": password_delivery})
        return _answer(answer)

    def dispatch(self, login: str, transfer: str, *, method: str) -> str:
        """Staff record that the password notice left (and how)."""
        with self.session(login) as (client, auth):
            return str(_answer(_post(client, f"/transfers/{transfer}/dispatch", auth,
                                     json={"method": method}))["notice"])

    def download(self, login: str, transfer: str, target: Path) -> None:
        """A handler fetches the package, streamed to disk; nothing is left of a broken download."""
        with self.session(login) as (client, auth):
            def fetch() -> httpx.Response:
                with client.stream("GET", f"{API}/transfers/{transfer}/package", headers=auth) as r:
                    if r.status_code == 200:
                        with atomic_output(target) as out:
                            for chunk in r.iter_raw(CHUNK):
                                out.write(chunk)
                    else:
                        r.read()
                return r
            r = _retrying(lambda: _call(fetch))
            if r.status_code != 200:
                raise _refusal(r)

    def receipt(self, login: str, transfer: str, *, records: int, sha256: str) -> dict[str, Any]:
        """The count and SHA-256 the handler found. A mismatch is recorded by the gateway (422)."""
        with self.session(login) as (client, auth):
            r = _post(client, f"/transfers/{transfer}/receipt", auth, json={"records": records, "sha256": sha256})
        if r.status_code == 422 and "matches" in _json(r):
            return _json(r)
        return _answer(r)

    def request_deletion(self, login: str, transfer: str, *, items: str, media: str, quantity: int, method: str,
                         planned_date: date) -> str:
        with self.session(login) as (client, auth):
            return str(_answer(_post(client, f"/transfers/{transfer}/deletions", auth, json={
                "items": items, "media": media, "quantity": quantity, "method": method,
                "planned_date": planned_date.isoformat()}))["deletion"])

    def decide(self, login: str, deletion: str, *, approve: bool, witness: str | None) -> None:
        """City staff approve (or reject) a contractor's deletion request, naming a witness if any."""
        body: dict[str, Any] = {"approve": approve}
        if witness:
            body["witness"] = witness
        with self.session(login) as (client, auth):
            _answer(_post(client, f"/deletions/{deletion}/decision", auth, json=body))

    def certify(self, login: str, deletion: str, certificate: dict[str, Any]) -> str:
        body = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in certificate.items()}
        with self.session(login) as (client, auth):
            return str(_answer(_post(client, f"/deletions/{deletion}/certificate", auth, json=body))["evidence"])


def _post(client: httpx.Client, path: str, auth: dict[str, str], **kw: Any) -> httpx.Response:
    def post() -> httpx.Response:
        for _, f, *_ in (kw.get("files") or {}).values():
            if hasattr(f, "seek"):
                f.seek(0)  # a retried upload sends the whole file again
        return client.post(API + path, headers=auth, **kw)
    return _retrying(lambda: _call(post))


def _retrying(do: Any) -> httpx.Response:
    """`do()`, again after the wait a 503's Retry-After asks for (the gateway's database was busy
    and nothing was changed), a few times; the last answer is returned whatever it is."""
    for _ in range(BUSY_RETRIES):
        r = do()
        if r.status_code != 503 or not r.headers.get("retry-after", "").isdigit():
            return r  # type: ignore[no-any-return]
        r.close()
        time.sleep(min(int(r.headers["retry-after"]), MAX_RETRY_AFTER))
    return do()  # type: ignore[no-any-return]


def _call(do: Any) -> Any:
    """`do()`, with a failure of the connection itself told as a GatewayError."""
    try:
        return do()
    except httpx.HTTPError as err:
        raise Invalid("ポータルとの通信に失敗しました。", f"the connection to the portal failed: {err}") from None


def _json(r: httpx.Response) -> dict[str, Any]:
    try:
        body = r.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _answer(r: httpx.Response) -> dict[str, Any]:
    if not 200 <= r.status_code < 300:
        raise _refusal(r)
    return _json(r)


def _refusal(r: httpx.Response) -> GatewayError:
    """The portal's refusal as the GatewayError it was: its category, kinds and every reason."""
    return error_from_json(_json(r), fallback_ja=f"ポータルが要求を拒否しました（HTTP {r.status_code}）。",
                           fallback_en=f"the portal refused the request (HTTP {r.status_code}): {r.text[:200]}")
