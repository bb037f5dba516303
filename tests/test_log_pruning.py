"""Logs and evidence are pruned only past their own window, only with a signed statement of what
was pruned, and the auditor verifies what remains (issue 9, item 1). SQLite and PostgreSQL."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import delete, func, select

from audit.tlog import CompactTree
from gateway.clock import FixedClock
from gateway.crypto.canonical_json import canonical
from gateway.home import Home
from gateway.ledger.log import Event
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.models_pruning import LogPruning
from tests.conftest import APPROVALS, IN_PERIOD, city_policy, move_clock, run_audit, run_gateway
from tests.helpers import certify, send, sweep_at

UTC = UTC
INIT = "2020-05-01T10:00:00+09:00"          # 2020-05-01T01:00Z
DAY0 = datetime(2020, 5, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def home(tmp_path, db_url, monkeypatch):
    """An installation initialised in 2020, so that every entry has a time the test chose."""
    root = tmp_path / "home"
    monkeypatch.setenv("GATEWAY_HOME", str(root))
    monkeypatch.setenv("GATEWAY_DB_URL", db_url)
    monkeypatch.setenv("GATEWAY_FAKE_NOW", INIT)
    run_gateway("init", "--rehearsal")
    return root


def open_gw(home: Path, at: datetime | None = None) -> Gateway:
    return Gateway.open(Home.resolve(str(home)), FixedClock(at) if at else None)


def write_days(home: Path, days: int, start: datetime = DAY0) -> None:
    """Per day two entries (one a refusal), then the shutdown checkpoint: one checkpoint a day."""
    at = start
    for day in range(days):
        gw = open_gw(home, at)
        gw.record(Event(action="test.event", channel="cli", reason=f"day {day}"))
        gw.record(Event(action="auth.login", channel="lgwan-asp", outcome="refused", kinds=("brute-force",)))
        gw.close()
        move_clock(at)  # later commands come after these entries
        at += timedelta(days=1)


def prune(now: str | datetime, check: bool = True, **kw) -> dict:
    text = now.isoformat() if isinstance(now, datetime) else now
    move_clock(text)  # the prune's entry is dated `now`, and the log's times never go back
    proc = run_gateway("retention", "prune-log", "--now", text, "--json", check=check, **kw)
    return json.loads(proc.stdout) if proc.returncode == 0 else {"exit": proc.returncode, "stderr": proc.stderr}


def export(tmp_path: Path, name: str, *extra: str) -> Path:
    bundle = tmp_path / name
    run_gateway("export", "evidence", "-o", str(bundle), *extra)
    return bundle


def policy(bundle: Path) -> Path:
    """The city's trust policy for the installation this module's `home` fixture made beside it."""
    return city_policy(bundle.parent / "home")


def verified(bundle: Path) -> dict:
    proc = run_audit("verify", str(bundle), "--json", trust=policy(bundle), check=False)
    out = json.loads(proc.stdout)
    assert proc.returncode == 0, out["failures"]
    return out


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def db_state(home: Path) -> tuple:
    gw = open_gw(home)
    with gw.unit() as s:
        state = (s.scalar(select(func.min(m.LogEntry.seq))), s.scalar(select(func.count()).select_from(m.LogEntry)),
                 s.scalar(select(func.count()).select_from(m.Checkpoint)),
                 s.scalar(select(func.count()).select_from(m.EvidenceDocument)),
                 s.scalar(select(func.count()).select_from(LogPruning)), s.get(m.LedgerHead, 1).hash)
    gw.engine.dispose()
    return state


# -- the window, to the second ------------------------------------------------------------------

def test_nothing_before_the_window_and_exactly_the_old_range_after_it(home, tmp_path):
    # init (entries 1, 2: system.init, home.rehearsal) on 2020-05-01; entries 3..10; checkpoints at 4, 6, 8, 10
    write_days(home, 4)
    # Entry 3 is exactly ten years old: not older than the window, and no checkpoint ends before it.
    nothing = prune("2030-05-02T01:00:00+00:00")
    assert nothing["pruned"] is False and nothing["kept_from"]["seq"] == 3
    assert db_state(home)[:2] == (1, 10)
    # One second later day 0 is past the window: entries 1-4 go, up to the checkpoint at 4.
    done = prune("2030-05-03T01:00:00+00:00")
    assert done["pruned"] is True and done["range"] == {"first": 1, "last": 4} and done["entries"] == 4
    assert done["kept_from"]["seq"] == 5 and done["log_years"] == 10
    assert db_state(home)[:2] == (5, 7)  # 5..10 and the log.prune entry
    again = prune("2030-05-03T01:00:01+00:00")  # day 1 (entries 5, 6) now past the window too
    assert again["range"] == {"first": 5, "last": 6}
    bundle = export(tmp_path, "bundle")
    out = verified(bundle)
    assert out["log"]["pruned"]["entries"] == 6
    assert json.loads(lines(bundle / "log" / "entries.jsonl")[0])["seq"] == 7
    assert len(lines(bundle / "log" / "prunings.jsonl")) == 2
    # The officer's page walks the chain from the last statement's head, not from entry 1.
    from gateway.channels.lgwan_asp.queries import chain_status

    with open_gw(home) as gw:
        status = chain_status(gw)
    assert status["ok"] and status["pruned"] == 6 and status["entries"] == db_state(home)[1], status


def test_the_statement_says_what_was_pruned_and_is_signed(home, tmp_path):
    write_days(home, 3)
    before = export(tmp_path, "before", )
    verified(before)
    old_lines = lines(before / "log" / "entries.jsonl")
    done = prune("2031-01-01T00:00:00+00:00")
    cut = done["range"]["last"]
    assert cut == len(old_lines)  # everything up to the export's own checkpoint
    after = export(tmp_path, "after")
    verified(after)
    (statement,) = [json.loads(x) for x in lines(after / "log" / "prunings.jsonl")]
    assert statement["id"] == done["statement"] and statement["type"] == "log-pruning"
    # signed with the evidence key, as checkpoints and evidence are
    keys = json.loads((after / "keys.json").read_bytes())
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(keys["keys"][statement["signature"]["key_id"]]))
    public.verify(base64.b64decode(statement["signature"]["value"]),
                  canonical({k: v for k, v in statement.items() if k != "signature"}))
    # the removed range, its head and RFC 6962 tree hash, recomputed from the earlier bundle
    hashes = [hashlib.sha256(b"\x00" + x.encode()).digest() for x in old_lines[:cut]]
    assert statement["range"] == {"first": 1, "last": cut} and statement["first_prev"] == "0" * 64
    assert statement["head"] == hashes[-1].hex()
    assert statement["tree_hash"] == mth(hashes).hex()
    # the C2SP checkpoint at the cut, exactly as the earlier bundle carried it, and the frontier
    # from which a verifier grows the tree of what remains
    assert statement["checkpoint"] == (before / "checkpoints" / f"{cut}.note").read_text(encoding="utf-8")
    tree = CompactTree()
    for h in hashes:
        tree.append(h)
    assert statement["frontier"] == [h.hex() for h in tree.frontier]
    assert base64.b64decode(statement["checkpoint"].split("\n")[2]) == tree.root() == mth(hashes)
    removed = statement["removed"]
    assert removed["entries"] == cut and removed["by_action"] == {
        "auth.login": 3, "evidence.export": 1, "home.rehearsal": 1, "system.init": 1, "test.event": 3}
    assert removed["by_outcome"] == {"ok": 6, "refused": 3} and removed["checkpoints"] == 4
    assert statement["retention"]["log_years"] == 10 and statement["retention"]["rule"] == "closed-cases/1"
    assert statement["retention"]["window_start"] == "2021-01-01T00:00:00.000000Z"
    assert statement["process"]["program"] == "gateway retention prune-log" and statement["process"]["pid"] > 0
    assert statement["issued_at"] == "2031-01-01T00:00:00.000000Z" and statement["prev"] is None
    # the pruning is itself a log entry that binds the statement; what remains links to the head
    entries = [json.loads(x) for x in lines(after / "log" / "entries.jsonl")]
    assert entries[0]["seq"] == cut + 1 and entries[0]["prev"] == statement["head"]
    (entry,) = [e for e in entries if e["action"] == "log.prune"]
    assert entry["seq"] == statement["log_seq"] and entry["evidence"]["id"] == statement["id"]
    # the checkpoints up to the cut went with their entries; the later ones still commit to them
    sizes = sorted(int(p.stem) for p in (after / "checkpoints").glob("*.note"))
    assert sizes and sizes[0] > cut


def mth(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def test_pruning_twice_is_idempotent(home, tmp_path):
    write_days(home, 3)
    first = prune("2031-01-01T00:00:00+00:00")
    assert first["pruned"] is True
    state = db_state(home)
    second = prune("2031-01-01T00:00:00+00:00")
    assert second["pruned"] is False and second["statement"] is None
    assert second["kept_from"]["seq"] == first["log_seq"]  # the prune's own entry is young
    assert db_state(home) == state  # not even a log entry
    verified(export(tmp_path, "bundle"))


# -- what a live case still needs -------------------------------------------------------------

def _open_case(home: Path, tmp_path: Path, monkeypatch) -> tuple[dict, int]:
    """Old noise (entries 3..6, checkpoints at 4 and 6), then a hand-over under a live approval.
    Returns the send's answer and the seq of the approval's registration."""
    write_days(home, 2)
    monkeypatch.setenv("GATEWAY_FAKE_NOW", IN_PERIOD)
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    run_gateway("approval", "add", str(APPROVALS / "kurume-2020-teigaku.toml"))
    run_gateway("user", "add", "s.staff", "--org", "kurume", "--role", "staff", "--name", "職員 一郎")
    source = tmp_path / "recipients.csv"
    run_gateway("generate", "recipients", "--count", "300", "--schema", "kurume-2020", "--seed", "7", "-o", str(source))
    sent = json.loads(send(source, tmp_path).stdout)
    return sent, json.loads(run_gateway("log", "--action", "approval.add", "--json").stdout)[0]["seq"]


def test_an_open_case_keeps_its_records_past_the_window(home, tmp_path, monkeypatch):
    # Eleven years on, the transfer is still open (the gateway never erased its copy): the old
    # noise goes, the approval's records stay, and the report on them is intact.
    _, approval_add = _open_case(home, tmp_path, monkeypatch)
    open_case = prune("2031-06-01T00:00:00+00:00")
    assert open_case["range"] == {"first": 1, "last": 6}
    assert open_case["kept_from"]["seq"] == approval_add
    assert "kurume-2020-teigaku" in open_case["kept_from"]["reason"] and "not erased" in open_case["kept_from"]["reason"]
    bundle = export(tmp_path, "open")
    verified(bundle)
    assert len(list((bundle / "evidence").glob("transfer-*.json"))) == 1


def test_an_uncertified_erasure_keeps_the_case_open(home, tmp_path, monkeypatch):
    # The copy is erased on time, but the contractor has not certified its erasure: still open.
    _, approval_add = _open_case(home, tmp_path, monkeypatch)
    sweep_at(datetime.fromisoformat("2020-06-08T10:00:00+09:00"))
    uncertified = prune("2031-06-01T00:00:00+00:00")
    assert uncertified["range"] == {"first": 1, "last": 6}
    assert uncertified["kept_from"]["seq"] == approval_add and "not certified" in uncertified["kept_from"]["reason"]


def test_entries_a_live_approval_needs_are_kept_until_it_closes_and_its_window_ends(home, tmp_path, monkeypatch):
    sent, approval_add = _open_case(home, tmp_path, monkeypatch)
    sweep_at(datetime.fromisoformat("2020-06-08T10:00:00+09:00"))
    # The contractor files its certificate; the case closes at its deadline (30 days after the
    # period), so its records stay ten years from then.
    monkeypatch.setenv("GATEWAY_FAKE_NOW", "2020-09-05T10:00:00+09:00")
    out = run_gateway("deletion", "request", sent["transfer"], "--items", "宛名データ一式", "--media", "作業サーバー",
                      "--quantity", "1", "--method", "暗号消去", "--planned-date", "2020-09-10", "--as", "k.tanaka", "--paper-ref", "書面 1").stdout
    deletion_id = out.strip().split()[-1]
    run_gateway("deletion", "decide", deletion_id, "--approve", "--as", "s.staff", "--paper-ref", "書面 1")
    monkeypatch.setenv("GATEWAY_FAKE_NOW", "2020-09-11T10:00:00+09:00")
    certify(deletion_id, erased_at="2020-09-10T15:00:00+09:00")  # after the decision, before now
    # Within the case's window only the old noise goes.
    within = prune("2030-09-15T00:00:00+00:00")
    assert within["range"] == {"first": 1, "last": 6} and within["kept_from"]["seq"] == approval_add
    assert "within the window" in within["kept_from"]["reason"]

    # Past it, the case's records go, up to the first prune's own entry: a prune removes a
    # prefix, and its own entry is young.
    closed = prune("2031-06-02T00:00:00+00:00")
    assert closed["range"]["first"] == 7 and closed["range"]["last"] < within["log_seq"]
    assert closed["evidence_documents"] >= 4 and closed["kept_from"]["seq"] == within["log_seq"]
    bundle = export(tmp_path, "closed")
    verified(bundle)
    assert not list((bundle / "evidence").glob("*.json"))
    rep = json.loads(run_audit("report", str(bundle), "--json", trust=policy(bundle)).stdout)
    assert [f for f in rep["findings"] if f["severity"] in ("warning", "violation")] == []

    # Ten more years: everything up to the last checkpoint goes, three statements account for it.
    final = prune("2042-01-01T00:00:00+00:00")
    assert final["range"]["first"] == closed["range"]["last"] + 1
    bundle = export(tmp_path, "final")
    out = verified(bundle)
    assert not list((bundle / "evidence").glob("*.json"))
    assert [s["first"] for s in out["log"]["pruned"]["statements"]] == [1, 7, closed["range"]["last"] + 1]
    scoped = export(tmp_path, "scoped", "--approval", "kurume-2020-teigaku")
    verified(scoped)
    assert len(lines(scoped / "log" / "prunings.jsonl")) == 3


# -- what the auditor catches -------------------------------------------------------------------

def test_entries_deleted_by_hand_without_a_statement_fail_verification(home, tmp_path):
    write_days(home, 3)
    gw = open_gw(home)
    with gw.unit() as s:  # what someone with database access might do to hide the early log
        s.execute(delete(m.Checkpoint).where(m.Checkpoint.size <= 5))
        s.execute(delete(m.LogEntry).where(m.LogEntry.seq <= 5))
    gw.engine.dispose()
    bundle = export(tmp_path, "bundle")
    proc = run_audit("verify", str(bundle), "--json", trust=policy(bundle), check=False)
    assert proc.returncode == 1
    failures = json.loads(proc.stdout)["failures"]
    assert any(f["kind"] == "log-tampered" and f["file"] == "log/entries.jsonl" and "entries 1–5 missing" in f["detail"]
               for f in failures)
    rep = json.loads(run_audit("report", str(bundle), "--json", trust=policy(bundle)).stdout)
    assert "log-tampered" in {f["kind"] for f in rep["findings"]}


def test_a_forged_statement_fails_verification(home, tmp_path):
    write_days(home, 3)
    prune("2031-01-01T00:00:00+00:00")
    gw = open_gw(home)
    with gw.unit() as s:  # claim fewer refusals were pruned; the signature stays the gateway's
        row = s.scalars(select(LogPruning)).one()
        statement = json.loads(row.body)
        statement["removed"]["by_outcome"]["refused"] = 0
        row.body = canonical(statement).decode()
    gw.engine.dispose()
    bundle = export(tmp_path, "bundle")
    proc = run_audit("verify", str(bundle), "--json", trust=policy(bundle), check=False)
    assert proc.returncode == 1
    failures = json.loads(proc.stdout)["failures"]
    assert any(f["kind"] == "evidence-forged" and f["file"] == "log/prunings.jsonl" and "does not verify" in f["detail"]
               for f in failures)
    assert any(f["kind"] == "log-tampered" and "missing" in f["detail"] for f in failures)


def test_a_broken_log_is_never_pruned_into_a_clean_statement(home, tmp_path):
    write_days(home, 3)
    gw = open_gw(home)
    with gw.unit() as s:
        row = s.get(m.LogEntry, 4)
        row.body = row.body.replace("brute-force", "none")
    gw.engine.dispose()
    state = db_state(home)
    refused = prune("2031-01-01T00:00:00+00:00", check=False)
    assert refused["exit"] == 1 and "entry 4" in refused["stderr"] and "改ざん" in refused["stderr"]
    first, entries, _, documents, statements, _ = db_state(home)
    # Nothing was pruned; the refusal itself is the one new entry.
    assert (first, entries, documents, statements) == (state[0], state[1] + 1, state[3], state[4])
    gw = open_gw(home)
    with gw.unit() as s:
        last = s.scalars(select(m.LogEntry).order_by(m.LogEntry.seq.desc()).limit(1)).one()
        assert (last.action, last.outcome) == ("log.prune", "refused") and "entry 4" in json.loads(last.body)["reason"]
    gw.engine.dispose()


# -- configuration ------------------------------------------------------------------------------

def test_the_window_comes_from_the_installation_config(home):
    write_days(home, 3)
    (home / "gateway.toml").write_text("[retention]\nlog_years = 5\n", encoding="utf-8")
    assert prune("2026-01-01T00:00:00+00:00")["log_years"] == 5
    (home / "gateway.toml").write_text("[retention]\nlog_year = 5\n", encoding="utf-8")
    bad = prune("2026-01-01T00:00:00+00:00", check=False)
    assert bad["exit"] == 1 and "log_year" in bad["stderr"]
    (home / "gateway.toml").write_text("[retention]\nlog_years = 0\n", encoding="utf-8")
    assert prune("2026-01-01T00:00:00+00:00", check=False)["exit"] == 1


# -- killed mid-way -----------------------------------------------------------------------------

KILLER = """
import os, signal, sys
from datetime import datetime
from gateway.home import Home
from gateway.clock import FixedClock
from gateway.ledger import log
from gateway.retention import log_pruning as prune
from gateway.service import Gateway

point = sys.argv[2]
original_record, original_sign = log.Ledger.record, None

def record(self, session, event, **kw):
    out = original_record(self, session, event, **kw)
    if point == "before-commit":
        os.kill(os.getpid(), signal.SIGKILL)
    return out

def sign(self_signer, document):
    signed = original_sign(self_signer, document)
    if point == "after-deletes" and document.get("type") == "log-pruning":
        os.kill(os.getpid(), signal.SIGKILL)
    return signed

log.Ledger.record = record
gw = Gateway.open(Home.resolve(sys.argv[1]), FixedClock(datetime.fromisoformat(sys.argv[3])))
original_sign = type(gw.ledger.signer).sign
type(gw.ledger.signer).sign = sign
prune.prune_log(gw)
"""


@pytest.mark.parametrize("point", ["after-deletes", "before-commit"])
def test_a_prune_killed_midway_changes_nothing_and_runs_again(home, tmp_path, point):
    write_days(home, 3)
    state = db_state(home)
    now = "2031-01-01T00:00:00+00:00"
    proc = subprocess.run([sys.executable, "-c", KILLER, str(home), point, now], env=os.environ)
    assert proc.returncode == -signal.SIGKILL
    assert db_state(home) == state
    verified(export(tmp_path, "untouched"))
    assert prune(now)["pruned"] is True
    verified(export(tmp_path, "pruned"))
