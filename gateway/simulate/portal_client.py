"""The scenario's city staff on the LGWAN-ASP portal, as they use it: over the network, through its
JSON API (the contractors' handlers use gateway-client, `contractors.py`, with the terminals and
passwords enrolled here).

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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gateway.channels.lgwan_asp import terminals
from gateway.channels.lgwan_asp.auth import issue_initial_password
from gateway.client import portal
from gateway.errors import Invalid
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
    p12: Path  # the terminal certificate as issued, for the person's own gateway-client
    p12_password: str


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
                portal.answer(portal.post(client, "/password", auth, json={"current": initial, "new": chosen}))
        except BaseException:
            client.close()
            raise
        self.people[login] = _Person(login, chosen, client, issued.p12, issued.p12_password)

    @contextlib.contextmanager
    def _signed_in(self, client: httpx.Client, login: str, password: str, *,
                   first: bool = False) -> Iterator[dict[str, str]]:
        token = portal.answer(portal.post(client, "/tokens", {}, json={"login": login, "password": password}))
        if bool(token["must_change_password"]) != first:
            raise Invalid("ポータルのアカウントの状態が想定と異なります。",
                               f"the portal account '{login}' is not in the expected state.")
        auth = {"authorization": f"Bearer {token['token']}"}
        done = False
        try:
            yield auth
            done = True
        finally:
            out = portal.post(client, "/logout", auth)
            if done and out.status_code != 204:
                raise portal.refusal(out)

    @contextlib.contextmanager
    def session(self, login: str) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
        """`login` at their terminal, logged in for one errand. Accounts made after the scenario's
        set-up (an outsider a fault adds) are enrolled when they first come."""
        self.enrol(login)
        person = self.people[login]
        with self._signed_in(person.client, login, person.password) as auth:
            yield person.client, auth

    def credentials(self, login: str) -> tuple[Path, str, str]:
        """The person's terminal certificate (PKCS#12), its password and their portal password."""
        self.enrol(login)
        person = self.people[login]
        return person.p12, person.p12_password, person.password

    # -- errands -----------------------------------------------------------------------------

    def send(self, login: str, file: Path, *, approval: str, profile: str, recipient: str,
             password_delivery: str, record_fiscal_year: int | None = None) -> dict[str, Any]:
        """Staff upload the recipient file from the send-only screen's API (multipart, streamed)."""
        data = {"approval": approval, "profile": profile, "recipient": recipient,
                "password_delivery": password_delivery}
        if record_fiscal_year is not None:
            data["record_fiscal_year"] = str(record_fiscal_year)
        with self.session(login) as (client, auth), file.open("rb") as f:
            answer = portal.post(client, "/transfers", auth, files={"file": (file.name, f, "text/csv")}, data=data)
        return portal.answer(answer)

    def dispatch(self, login: str, transfer: str, *, method: str) -> str:
        """Staff record that the password notice left (and how)."""
        with self.session(login) as (client, auth):
            return str(portal.answer(portal.post(client, f"/transfers/{transfer}/dispatch", auth,
                                     json={"method": method}))["notice"])

    def decide(self, login: str, deletion: str, *, approve: bool, witness: str | None) -> None:
        """City staff approve (or reject) a contractor's deletion request, naming a witness if any."""
        body: dict[str, Any] = {"approve": approve}
        if witness:
            body["witness"] = witness
        with self.session(login) as (client, auth):
            portal.answer(portal.post(client, f"/deletions/{deletion}/decision", auth, json=body))
