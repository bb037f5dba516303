"""Every refusal, on every way in, leaves exactly one entry in the log (issue 16).

The walk is exhaustive by construction: every leaf command of `gateway` and every route of the
portal's API (from its OpenAPI document) must either have a refusal case below or be named, with
the reason, among those that refuse nothing of their own. A new command or route without either
fails `test_the_walk_covers_every_command` or `test_the_walk_covers_every_api_route`.

Each case acts from outside (the command line as an operator types it, the API over mutual TLS)
and compares the log before and after: exactly one new entry, `refused`, of the expected action,
and the refusal's category as the channel reports it (`--json`, or the HTTP status).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from gateway.store import models as m
from tests.portal.conftest import PASSWORD, Portal, bearer

# -- reading the log -----------------------------------------------------------------------------


def last_seq(portal: Portal) -> int:
    with portal.gw.read() as s:
        return int(s.scalar(select(func.max(m.LogEntry.seq))) or 0)


def entries_after(portal: Portal, seq: int) -> list[dict[str, Any]]:
    with portal.gw.read() as s:
        return [json.loads(b) for b in s.scalars(select(m.LogEntry.body).where(m.LogEntry.seq > seq)
                                                  .order_by(m.LogEntry.seq))]


@contextmanager
def exactly_one_refusal(portal: Portal, action: str) -> Iterator[list[dict[str, Any]]]:
    before = last_seq(portal)
    new: list[dict[str, Any]] = []
    yield new
    new.extend(entries_after(portal, before))
    assert [(e["action"], e["outcome"]) for e in new] == [(action, "refused")], new


# -- the command line ----------------------------------------------------------------------------


def gateway(*args: str, os_user: str | None = None) -> tuple[int, dict[str, Any] | None, str]:
    """`gateway ARGS --json` in this process; the exit code, the JSON it printed, and stderr.
    `os_user`: the operating-system user it runs as (else this process's, the installation's admin)."""
    from gateway.cli import main

    kw = {"obj": {"os_user": os_user}} if os_user else {}
    result = CliRunner().invoke(main, list(args), catch_exceptions=False, **kw)
    answer = None
    for line in reversed(result.stdout.strip().splitlines()):
        try:
            answer = json.loads(line)
            break
        except ValueError:
            continue
    return result.exit_code, answer, result.stderr


@dataclass(frozen=True)
class Case:
    command: str  # the leaf command, as `gateway <command>` spells it
    action: str  # the log entry's action
    category: str
    argv: Callable[[dict[str, Any]], list[str]]
    json: bool = True  # the command has --json


@pytest.fixture(scope="module")
def world(portal: Portal, kurume_transfer: dict, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the cases act on: a transfer, a deletion request k.tanaka filed for it (not yet
    decided), files and directories of the right and wrong kinds."""
    root = tmp_path_factory.mktemp("refusals")
    tid = kurume_transfer["transfer"]
    with bearer(portal, "k.tanaka") as (c, h):
        r = c.post(f"/api/v1/transfers/{tid}/deletions", headers=h, json={
            "items": "宛名データ", "media": "作業サーバー", "quantity": 1, "method": "暗号消去",
            "planned_date": "2020-06-10"})
        assert r.status_code == 200, r.text
    (root / "not-a-dir").write_text("x")
    (root / "full").mkdir()
    (root / "full" / "something").write_text("x")
    private = root / "id_ed25519"
    private.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n")
    (root / "bad.toml").write_text("id = 'x'\nunknown = 1\n")
    (root / "recipients.csv").write_text("氏名,住所\n山田 太郎,久留米市\n", encoding="utf-8")
    return {"transfer": tid, "deletion": r.json()["deletion"], "root": root, "private": private}


CERTIFY = ["--erased-at", "2020-06-01T09:00:00+09:00", "--media-manufacturer", "X", "--media-model", "Y",
           "--media-serial", "Z", "--sanitisation", "purge", "--technique", "crypto erase", "--tool", "t 1",
           "--verification", "read back", "--sanitised-by", "a,b", "--verified-by", "c,d", "--place", "p"]

CLI_CASES = [
    # The two cases the issue found: a contractor trying the city's decision, and a certificate
    # before the city approved the request.
    Case("deletion decide", "deletion.decide", "not-found",
         lambda w: ["deletion", "decide", w["deletion"], "--approve", "--as", "k.tanaka", "--paper-ref", "書面 1"]),
    Case("deletion certify", "deletion.certify", "conflict",
         lambda w: ["deletion", "certify", w["deletion"], *CERTIFY, "--as", "k.tanaka", "--paper-ref", "書面 1"]),
    Case("deletion request", "deletion.request", "not-found",
         lambda w: ["deletion", "request", "T20200601-0000000000", "--items", "i", "--media", "m", "--quantity", "1",
                    "--method", "x", "--planned-date", "2020-06-10", "--as", "k.tanaka", "--paper-ref", "書面 1"]),
    Case("send", "transfer.send", "refused",
         lambda w: ["send", str(w["root"] / "recipients.csv"), "--approval", "kurume-2020-teigaku", "--recipient",
                    "chikugo-print", "--profile", "lgwan-asp", "--password-delivery", "lgwan-asp",
                    "--as", "s.staff", "--paper-ref", "書面 1"]),
    Case("fetch", "transfer.download", "forbidden",
         lambda w: ["fetch", w["transfer"], "-o", str(w["root"] / "pkg.age"), "--as", "x.outsider", "--paper-ref", "書面 1"]),
    Case("receipt", "transfer.receipt", "invalid",
         lambda w: ["receipt", w["transfer"], "--records", "1", "--sha256", "not-a-hash", "--as", "k.tanaka", "--paper-ref", "書面 1"]),
    Case("notice dispatch", "notice.dispatch", "refused",
         lambda w: ["notice", "dispatch", w["transfer"], "--method", "lgwan-asp", "--as", "s.staff", "--paper-ref", "書面 1"], json=False),
    Case("courier write", "courier.write", "refused",
         lambda w: ["courier", "write", w["transfer"], "--media", "cdr", "--serial", "CD-1", "-o",
                    str(w["root"] / "media"), "--as", "s.staff", "--paper-ref", "書面 1"]),
    Case("courier handover", "courier.handover", "not-found",
         lambda w: ["courier", "handover", "NO-SUCH", "--to", "k.tanaka", "--place", "p", "--quantity", "1",
                    "--cabinet", "c", "--as", "s.staff", "--paper-ref", "書面 1"]),
    Case("courier return", "courier.return", "not-found",
         lambda w: ["courier", "return", "NO-SUCH", "--to", "s.staff", "--place", "p", "--quantity", "1",
                    "--cabinet", "c", "--as", "k.tanaka", "--paper-ref", "書面 1"]),
    Case("courier lost", "courier.lost", "not-found",
         lambda w: ["courier", "lost", "NO-SUCH", "--place", "p", "--circumstances", "c", "--as", "s.staff", "--paper-ref", "書面 1"]),
    Case("courier show", "courier.show", "not-found",
         lambda w: ["courier", "show", "NO-SUCH", "--as", "s.staff", "--paper-ref", "書面 1"]),
    Case("approval add", "approval.add", "invalid",
         lambda w: ["approval", "add", str(w["root"] / "bad.toml")]),
    # Issue 21: the 納品 record, the duty ledger, 乙's acknowledgement, a condition's confirmation and
    # the keyed exclusion lists.
    Case("delivery record", "delivery.record", "not-found",
         lambda w: ["delivery", "record", "T20200601-0000000000", "--from", "k.tanaka", "--to", "s.staff", "--place",
                    "p", "--content", "c", "--quantity", "1", "--as", "s.staff", "--paper-ref", "書面 1"]),
    Case("duty record", "duty.record", "invalid",
         lambda w: ["duty", "record", "kurume-2020-teigaku", "--duty", "no-such", "--on", "2020-06-01", "--means",
                    "m", "--as", "s.staff", "--paper-ref", "書面 1"]),
    Case("deletion acknowledge", "deletion.acknowledge", "not-found",
         lambda w: ["deletion", "acknowledge", w["deletion"], "--as", "k.tanaka", "--paper-ref", "書面 1"]),
    Case("approval confirm", "condition.confirm", "not-found",
         lambda w: ["approval", "confirm", "kurume-2020-teigaku", "--condition", "1", "--means", "m",
                    "--as", "k.tanaka", "--paper-ref", "書面 1"]),
    Case("exclusion import", "exclusion.import", "forbidden",
         lambda w: ["exclusion", "import", "dv-evacuee", "--key-field", "resident_number", "-i",
                    str(w["root"] / "recipients.csv"), "--as", "k.tanaka", "--paper-ref", "書面 1"]),
    Case("user add", "user.add", "not-found",
         lambda w: ["user", "add", "n.new", "--org", "no-such-org", "--role", "staff", "--name", "新"], json=False),
    Case("user add-key", "user.add-key", "invalid",
         lambda w: ["user", "add-key", "k.tanaka", str(w["private"])], json=False),
    Case("user issue-password", "user.issue-password", "not-found",
         lambda w: ["user", "issue-password", "no.such"], json=False),
    Case("user disable", "user.disable", "not-found", lambda w: ["user", "disable", "no.such", "--reason", "退職"]),
    Case("user enable", "user.enable", "conflict", lambda w: ["user", "enable", "s.staff", "--reason", "復帰"]),
    Case("user unlock", "user.unlock", "conflict", lambda w: ["user", "unlock", "s.staff"]),
    Case("user credentials-delivered", "user.credentials-delivered", "invalid",
         lambda w: ["user", "credentials-delivered", "s.staff", "--method", "by-hand", "--ref", " "]),
    Case("approval amend-handlers", "approval.amend-handlers", "conflict",
         lambda w: ["approval", "amend-handlers", "kurume-2020-teigaku", "--org", "chikugo-print", "--remove",
                    "no.such", "--decision-ref", "久市民第1号", "--reason", "退職"]),
    Case("org pin-host", "org.pin-host", "invalid",
         lambda w: ["org", "pin-host", "chikugo-print", "--host", "127.0.0.1", "--host-key",
                    str(w["root"] / "not-a-dir"), "--user", "u", "--dir", "/in"], json=False),
    Case("push", "transfer.push", "refused", lambda w: ["push", w["transfer"], "--as", "s.staff", "--paper-ref", "書面 1"]),
    Case("terminal issue", "terminal.issue", "not-found",
         lambda w: ["terminal", "issue", "no.such", "-o", str(w["root"] / "certs")]),
    Case("terminal revoke", "terminal.revoke", "not-found",
         lambda w: ["terminal", "revoke", "no.such"], json=False),
    Case("hotfolder register", "hotfolder.register", "invalid",
         lambda w: ["hotfolder", "register", str(w["root"] / "no-such-dir"), "--owner", "s.staff"], json=False),
    Case("tls import", "tls.import", "invalid",
         lambda w: ["tls", "import", "--cert", str(w["root"] / "no-such.pem"), "--key", str(w["root"] / "no-such.key")]),
    Case("mail send-due", "mail.send-due", "invalid", lambda w: ["mail", "send-due"]),
    Case("export evidence", "evidence.export", "conflict",
         lambda w: ["export", "evidence", "-o", str(w["root"] / "full")]),
    Case("keys publish", "keys.publish", "invalid",  # a quorum larger than the witnesses configured
         lambda w: ["keys", "publish", "-o", str(w["root"] / "trust.toml"), "--quorum", "3"]),
    Case("witness add", "witness.add", "invalid",  # not a verifier key
         lambda w: ["witness", "add", "http://127.0.0.1:9/", "--key", "not+a+key"]),
    Case("witness remove", "witness.remove", "not-found", lambda w: ["witness", "remove", "no.such/witness"],
         json=False),
    Case("operator add", "operator.add", "not-found",
         lambda w: ["operator", "add", "someone", "--login", "no.such"], json=False),
    Case("second-check show", "second-check.show", "not-found",
         lambda w: ["second-check", "show", w["transfer"], "--as", "s.staff", "--paper-ref", "書面 1"]),
    Case("second-check approve", "second-check.approve", "not-found",  # a send that was never held
         lambda w: ["second-check", "approve", w["transfer"], "--reason", "確認", "--as", "s.staff",
                    "--paper-ref", "書面 1"]),
    Case("second-check reject", "second-check.reject", "not-found",
         lambda w: ["second-check", "reject", w["transfer"], "--reason", "誤り", "--as", "k.tanaka",
                    "--paper-ref", "書面 1"]),
    Case("transfer recall", "transfer.recall", "forbidden",  # a contractor cannot take back the city's send
         lambda w: ["transfer", "recall", w["transfer"], "--reason", "x", "--as", "k.tanaka", "--paper-ref", "書面 1"]),
    Case("incident report", "incident.report", "invalid",
         lambda w: ["incident", "report", "--transfer", w["transfer"], "--content", " ", "--records", "1", "--place", "p",
                    "--circumstances", "c", "--as", "k.tanaka", "--paper-ref", "書面 1"]),
    Case("incident instruct", "incident.instruct", "not-found",
         lambda w: ["incident", "instruct", "I-NO-SUCH", "--instruction", "x", "--due", "2030-01-01T00:00:00+09:00",
                    "--as", "s.staff", "--paper-ref", "書面 1"]),
    Case("incident done", "incident.done", "not-found",
         lambda w: ["incident", "done", "I-NO-SUCH", "--note", "x", "--as", "k.tanaka", "--paper-ref", "書面 1"]),
    Case("incident publication", "incident.publication", "not-found",
         lambda w: ["incident", "publication", "I-NO-SUCH", "--withhold", "--reason", "x", "--as", "s.staff",
                    "--paper-ref", "書面 1"]),
    Case("incident close", "incident.close", "not-found",
         lambda w: ["incident", "close", "I-NO-SUCH", "--summary", "x", "--as", "s.staff", "--paper-ref", "書面 1"]),
    Case("incident show", "incident.show", "not-found",
         lambda w: ["incident", "show", "I-NO-SUCH", "--as", "s.staff", "--paper-ref", "書面 1"]),
    Case("incident external", "transfer.declare-external", "forbidden",
         lambda w: ["incident", "external", "--sender-org", "kurume", "--recipient", "r", "--description", "d",
                    "--records", "1", "--handed-over-at", "2020-05-20T10:00:00+09:00", "--as", "s.staff",
                    "--paper-ref", "書面 1"]),
    Case("incident regularise", "transfer.regularise", "forbidden",
         lambda w: ["incident", "regularise", "X-NO-SUCH", "--approval", "kurume-2020-teigaku", "--note", "n",
                    "--as", "s.staff", "--paper-ref", "書面 1"]),
    Case("user revoke-key", "user.revoke-key", "not-found",
         lambda w: ["user", "revoke-key", "k.tanaka", "SHA256:notakeyofhers"], json=False),
]

# Commands that refuse nothing of their own: each is named with why, so that adding a command
# means deciding which list it belongs to.
NOT_ACTIONS = {
    "init": "creates the installation; before it there is no log to write to",
    "demo": "a rehearsal in a home of its own, through the commands above",
    "simulate": "a rehearsal in a home of its own, through the commands above",
    "serve": "runs the channels; their refusals are the channels' cases",
    "generate recipients": "writes synthetic data; touches no installation",
    "package encrypt": "the contractor's tool on a file; touches no installation",
    "package decrypt": "the contractor's tool on a file; touches no installation",
    "courier extract": "the receiver's tool on media images; touches no installation",
    "check": "screens a file and stores nothing: the refusal it predicts is logged when the file is sent",
    "log": "reads the log",
    "approval list": "reads", "approval show": "reads", "user list": "reads", "keys show": "reads",
    "operator list": "reads",
    "courier list": "reads", "retention due": "reads", "settings show": "reads", "duty status": "reads",
    "tls show": "reads",
    "org push-key": "prints the gateway's public push key",
    "keys rotate-signing": "an administrator's act on the key store with no refusal of its own",
    "keys rotate-kek": "an administrator's act on the key store, logged as kek.rotate",
    "witness list": "reads", "second-check list": "reads", "incident list": "reads",
    "witness submit": "sends pending checkpoints to the witnesses; changes no record and logs nothing",
    "retention sweep": "the scheduler's act; it refuses nothing",
    "retention prune-log": "refuses only a broken log (tests/test_log_pruning.py, one entry)",
    "hotfolder run": "the channel; its refusals are in tests/hotfolder",
    "doctor": "checks the installation; --repair removes only what processes that died left",
    "cluster up": "starts servers and makes the nodes' homes; before it there is no log to write to",
    "cluster status": "reads the state file", "cluster down": "stops processes; the log is what it stops",
    "command-server": "runs other commands, each of which logs its own refusals; it changes no record",
}


def leaf_commands() -> set[str]:
    from gateway.cli import main

    ctx = click.Context(main)
    out: set[str] = set()

    def walk(group: click.Group, prefix: str) -> None:
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            assert cmd is not None
            if isinstance(cmd, click.Group):
                walk(cmd, f"{prefix}{name} ")
            else:
                out.add(f"{prefix}{name}")

    walk(main, "")
    return out


def test_the_walk_covers_every_command() -> None:
    covered = {c.command for c in CLI_CASES} | set(NOT_ACTIONS)
    assert leaf_commands() == covered


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda c: c.command)
def test_each_command_refusal_is_one_entry(portal: Portal, world: dict[str, Any], case: Case) -> None:
    argv = case.argv(world) + (["--json"] if case.json else [])
    with exactly_one_refusal(portal, case.action):
        code, answer, stderr = gateway(*argv)
    assert code == 1, stderr
    assert stderr.strip(), "a refusal says why, on stderr"
    if case.json:
        assert answer is not None and answer["category"] == case.category, answer
        assert set(answer) >= {"error", "category", "kinds", "ja", "en"}


# -- the portal's API ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as the OpenAPI document writes it
    action: str
    status: int
    who: str  # the login whose terminal and token make the request
    call: Callable[[Any, dict[str, str], dict[str, Any]], Any]  # (client, headers, world) -> response


def _deletion_body() -> dict[str, Any]:
    return {"items": "i", "media": "m", "quantity": 1, "method": "x", "planned_date": "2020-06-10"}


API_CASES = [
    Route("POST", "/api/v1/tokens", "auth.login", 401, "sj.officer",
          lambda c, h, w: c.post("/api/v1/tokens", json={"login": "sj.officer", "password": "wrong-password-1"})),
    Route("POST", "/api/v1/password", "auth.password-change", 401, "t.kobayashi",
          lambda c, h, w: c.post("/api/v1/password", headers=h, json={"current": "wrong", "new": "x" * 20})),
    Route("GET", "/api/v1/transfers", "portal.forbidden", 403, "sec.officer",
          lambda c, h, w: c.get("/api/v1/transfers", headers=h)),
    Route("GET", "/api/v1/transfers/{transfer_id}", "transfer.show", 404, "sj.staff",
          lambda c, h, w: c.get(f"/api/v1/transfers/{w['transfer']}", headers=h)),
    Route("POST", "/api/v1/transfers", "portal.forbidden", 403, "k.tanaka",
          lambda c, h, w: c.post("/api/v1/transfers", headers=h, files={"file": ("a.csv", b"x")})),
    Route("POST", "/api/v1/transfers/{transfer_id}/dispatch", "notice.dispatch", 422, "s.staff",
          lambda c, h, w: c.post(f"/api/v1/transfers/{w['transfer']}/dispatch", headers=h,
                                 json={"method": "lgwan-asp"})),
    Route("GET", "/api/v1/transfers/{transfer_id}/package", "transfer.download", 403, "x.outsider",
          lambda c, h, w: c.get(f"/api/v1/transfers/{w['transfer']}/package", headers=h)),
    Route("POST", "/api/v1/transfers/{transfer_id}/receipt", "transfer.receipt", 400, "k.tanaka",
          lambda c, h, w: c.post(f"/api/v1/transfers/{w['transfer']}/receipt", headers=h,
                                 json={"records": 1, "sha256": "z" * 64})),
    Route("POST", "/api/v1/transfers/{transfer_id}/deletions", "deletion.request", 403, "x.outsider",
          lambda c, h, w: c.post(f"/api/v1/transfers/{w['transfer']}/deletions", headers=h, json=_deletion_body())),
    Route("POST", "/api/v1/deletions/{deletion_id}/certificate", "deletion.certify", 409, "k.tanaka",
          lambda c, h, w: c.post(f"/api/v1/deletions/{w['deletion']}/certificate", headers=h, json={
              "erased_at": "2020-06-01T09:00:00+09:00", "media_manufacturer": "X", "media_model": "Y",
              "media_serial_or_location": "Z", "sanitisation": "purge", "technique": "t", "tool": "t",
              "verification": "v", "sanitised_by": {"name": "a", "title": "b"},
              "verified_by": {"name": "c", "title": "d"}, "place": "p"})),
    Route("GET", "/api/v1/deletions", "portal.forbidden", 403, "k.tanaka",
          lambda c, h, w: c.get("/api/v1/deletions", headers=h)),
    Route("POST", "/api/v1/deletions/{deletion_id}/decision", "deletion.decide", 404, "sj.staff",
          lambda c, h, w: c.post(f"/api/v1/deletions/{w['deletion']}/decision", headers=h, json={"approve": True})),
    Route("GET", "/api/v1/transfers/{transfer_id}/deliverables", "deliverable.list", 404, "t.kobayashi",
          lambda c, h, w: c.get(f"/api/v1/transfers/{w['transfer']}/deliverables", headers=h)),
    Route("POST", "/api/v1/transfers/{transfer_id}/deliverables", "deliverable.upload", 403, "x.outsider",
          lambda c, h, w: c.post(f"/api/v1/transfers/{w['transfer']}/deliverables", headers=h,
                                 files={"file": ("a.csv", b"x")})),
    Route("GET", "/api/v1/log", "log.read", 400, "sec.officer",
          lambda c, h, w: c.get("/api/v1/log", headers=h, params={"since": "yesterday"})),
    Route("GET", "/api/v1/chain", "portal.forbidden", 403, "s.staff",
          lambda c, h, w: c.get("/api/v1/chain", headers=h)),
    Route("GET", "/api/v1/approvals", "portal.forbidden", 403, "s.staff",
          lambda c, h, w: c.get("/api/v1/approvals", headers=h)),
    Route("GET", "/api/v1/approvals/{approval_id}/report", "audit.report", 404, "sec.officer",
          lambda c, h, w: c.get("/api/v1/approvals/shinjuku-2020-teigaku/report", headers=h)),
    Route("POST", "/api/v1/incidents", "incident.report", 404, "x.outsider",  # not a handler of this transfer
          lambda c, h, w: c.post("/api/v1/incidents", headers=h, json={
              "transfer": w["transfer"], "content": "c", "records": 1, "place": "p", "circumstances": "s",
              "occurred_at": "2020-06-01T10:00:00+09:00"})),
    Route("POST", "/api/v1/attestations", "attestation.file", 400, "k.tanaka",
          lambda c, h, w: c.post("/api/v1/attestations", headers=h, json={"document": {}, "signature": "x"})),
    # Not a route of its own: any route, with a body its schema refuses.
    Route("POST", "/api/v1/transfers/{transfer_id}/receipt", "portal.request", 422, "k.tanaka",
          lambda c, h, w: c.post(f"/api/v1/transfers/{w['transfer']}/receipt", headers=h, json={"records": "many"})),
]

NOT_REFUSING_ROUTES = {
    ("GET", "/api/v1/me"): "answers who the token belongs to; the guard refuses what has no token",
    ("POST", "/api/v1/logout"): "ends the caller's own session; nothing to refuse with a token",
}


def test_the_walk_covers_every_api_route(portal: Portal) -> None:
    from gateway.channels.lgwan_asp.app import create_app

    document = create_app(portal.gw).openapi()
    routes = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert routes == {(r.method, r.path) for r in API_CASES} | set(NOT_REFUSING_ROUTES)


@pytest.mark.parametrize("route", API_CASES, ids=lambda r: f"{r.method} {r.path} {r.action}")
def test_each_api_refusal_is_one_entry(portal: Portal, world: dict[str, Any], route: Route) -> None:
    with portal.client(route.who) as c:
        token = c.post("/api/v1/tokens", json={"login": route.who, "password": PASSWORD})
        assert token.status_code == 200, token.text
        headers = {"authorization": f"Bearer {token.json()['token']}"}
        with exactly_one_refusal(portal, route.action):
            r = route.call(c, headers, world)
    assert r.status_code == route.status, r.text
    body = r.json()
    assert body["ja"] and body["en"] and body["category"], body


def test_the_two_deletion_refusals_of_the_issue_name_the_transfer(portal: Portal, world: dict[str, Any]) -> None:
    """The contractor's try at the city's decision names no transfer (to them it does not exist);
    the early certificate names the transfer, which is the contractor's own."""
    with exactly_one_refusal(portal, "deletion.decide") as new:
        gateway("deletion", "decide", world["deletion"], "--approve", "--as", "k.tanaka", "--paper-ref", "書面 1", "--json")
    assert new[0]["object"]["transfer"] is None and new[0]["actor"]["user"] == "k.tanaka"
    with exactly_one_refusal(portal, "deletion.certify") as new:
        gateway("deletion", "certify", world["deletion"], *CERTIFY, "--as", "k.tanaka", "--paper-ref", "書面 1", "--json")
    assert new[0]["object"]["transfer"] == world["transfer"]


def test_an_unmapped_operating_system_user_is_refused_and_logged(portal: Portal) -> None:
    with exactly_one_refusal(portal, "cli.operator") as new:
        code, _, stderr = gateway("approval", "list", os_user="mallory")
    assert code == 1 and "operator add mallory" in stderr
    assert new[0]["actor"]["user"] == "os:mallory" and new[0]["channel"] == "cli"


def test_proxy_entry_without_its_paper_is_refused_and_logged(portal: Portal, world: dict[str, Any]) -> None:
    with exactly_one_refusal(portal, "cli.proxy") as new:
        code, answer, _ = gateway("deletion", "request", world["transfer"], "--items", "i", "--media", "m",
                                  "--quantity", "1", "--method", "x", "--planned-date", "2020-06-10", "--as", "k.tanaka",
                                  "--json")
    assert code == 1 and answer is not None and answer["category"] == "invalid"
    assert new[0]["actor"]["user"] == "admin"
