"""Time is evidence (issue 26, finding 1): a fake clock only in rehearsal homes, entry times that
never go back, and an auditor that says so when they do."""
from __future__ import annotations

import json
from datetime import datetime

import pytest

from gateway.clock import JST, FixedClock
from gateway.home import Home
from gateway.ledger import log as ledger_log
from gateway.ledger.log import Event
from gateway.service import Gateway
from tests.conftest import APPROVALS, city_policy, run_audit, run_gateway

PERIOD = "2020-06-01T10:00:00+09:00"
SENDER = ["user", "add", "s.staff", "--org", "kurume", "--role", "staff", "--name", "職員 一郎"]


def send(source, *extra: str, check: bool = True, env: dict[str, str] | None = None):
    return run_gateway("send", str(source), "--approval", "kurume-2020-teigaku", "--recipient", "chikugo-print",
                       "--profile", "vpn-sftp", "--password-delivery", "registered-mail", "--as", "s.staff", "--paper-ref", "書面 1", "--json",
                       *extra, check=check, env=env)


@pytest.fixture
def production(tmp_path, monkeypatch):
    """A production home (SQLite): `gateway init` without --rehearsal, on the real clock."""
    root = tmp_path / "prod"
    monkeypatch.setenv("GATEWAY_HOME", str(root))
    monkeypatch.delenv("GATEWAY_DB_URL", raising=False)
    monkeypatch.delenv("GATEWAY_FAKE_NOW", raising=False)
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    run_gateway("init")
    run_gateway("approval", "add", str(APPROVALS / "kurume-2020-teigaku.toml"))
    run_gateway(*SENDER)
    source = tmp_path / "r.csv"
    run_gateway("generate", "recipients", "--count", "50", "--schema", "kurume-2020", "--seed", "5", "-o", str(source))
    return root, source


def entries(**filters: str) -> list[dict]:
    args = ["log", "--json", "--limit", "100000"]
    for k, v in filters.items():
        args += [f"--{k}", v]
    return json.loads(run_gateway(*args).stdout)


def test_a_production_home_refuses_a_backdated_send_and_logs_the_attempt(production):
    """The finding: a send under an approval that expired years ago, run with GATEWAY_FAKE_NOW
    set, was accepted and dated inside the approval's period."""
    _, source = production
    proc = send(source, check=False, env={"GATEWAY_FAKE_NOW": PERIOD})
    assert proc.returncode == 1
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    assert answer["category"] == "forbidden" and "production home" in answer["en"] and "本番用" in answer["ja"]
    assert not [e for e in entries(action="transfer.send")]
    refused = entries(action="clock.refused")
    assert len(refused) == 1 and "GATEWAY_FAKE_NOW" in refused[0]["reason"]


def test_a_production_home_refuses_now_options(production):
    proc = run_gateway("retention", "sweep", "--now", "2020-06-08T10:00:00+09:00", check=False)
    assert proc.returncode == 1 and "production home" in proc.stderr
    proc = run_gateway("retention", "prune-log", "--now", "2041-01-01T10:00:00+09:00", check=False)
    assert proc.returncode == 1 and "production home" in proc.stderr
    assert len(entries(action="clock.refused")) == 2


def test_a_production_home_cannot_be_turned_into_a_rehearsal(production):
    proc = run_gateway("init", "--rehearsal", check=False)
    assert proc.returncode == 1 and "cannot become a rehearsal home" in proc.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_rehearsal_home_says_so_and_the_auditor_shows_it(home, tmp_path):
    first = entries()[:2]
    assert [e["action"] for e in first] == ["system.init", "home.rehearsal"]
    assert {e["at"] for e in first} == {"2019-04-01T00:00:00.000000Z"}  # the rehearsal's time, not the real one
    bundle = tmp_path / "bundle"
    run_gateway("export", "evidence", "-o", str(bundle))
    verified = run_audit("verify", str(bundle), trust=city_policy(home))
    assert "rehearsal" in verified.stdout and "not real" in verified.stdout
    rep = json.loads(run_audit("report", str(bundle), "--json", trust=city_policy(home)).stdout)
    assert rep["home"]["rehearsal"] is True and rep["home"]["rehearsal_entry"] == 2
    run_audit("report", str(bundle), "-o", str(tmp_path / "r.html"), trust=city_policy(home))
    assert "リハーサル" in (tmp_path / "r.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_entry_times_never_go_back(home, tmp_path):
    run_gateway("approval", "add", str(APPROVALS / "kurume-2020-teigaku.toml"), env={"GATEWAY_FAKE_NOW": PERIOD})
    before = entries()
    proc = run_gateway(*SENDER, check=False, env={"GATEWAY_FAKE_NOW": "2020-05-31T10:00:00+09:00"})
    assert proc.returncode == 1 and "earlier than the log's last entry" in proc.stderr and "時計" in proc.stderr
    assert entries() == before  # nothing recorded, not even the refusal
    run_gateway(*SENDER, env={"GATEWAY_FAKE_NOW": PERIOD})  # the same time again is fine


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_auditor_reports_a_log_whose_times_go_back(home, tmp_path):
    """A chain whose links and checkpoints all hold but whose times go back (what a backdating
    gateway would write): the chain alone would verify; the times show it."""
    gw = Gateway.open(Home(home), FixedClock(datetime(2020, 6, 2, 10, tzinfo=JST)))
    gw.record(Event(action="test.event", channel="cli", reason="on the second"))
    with pytest.MonkeyPatch.context() as old_ledger:
        old_ledger.setattr(ledger_log, "refuse_time_before_head", lambda *a: None)  # as the ledger was
        gw.clock.set(datetime(2020, 6, 1, 10, tzinfo=JST))
        gw.record(Event(action="test.event", channel="cli", reason="dated the day before"))
        gw.close()
    bundle = tmp_path / "backdated"
    run_gateway("export", "evidence", "-o", str(bundle), env={"GATEWAY_FAKE_NOW": "2020-06-03T10:00:00+09:00"})
    proc = run_audit("verify", str(bundle), "--json", check=False, trust=city_policy(home))
    assert proc.returncode == 1
    failures = json.loads(proc.stdout)["failures"]
    assert [f["kind"] for f in failures] == ["log-tampered"] and "times go back" in failures[0]["detail"]
    rep = json.loads(run_audit("report", str(bundle), "--json", trust=city_policy(home)).stdout)
    assert {f["kind"] for f in rep["findings"] if f["severity"] != "info"} == {"log-tampered"}
    # The doctor sees the same in the database.
    doctor = json.loads(run_gateway("doctor", "--json", check=False).stdout)
    log_check = next(c for c in doctor["checks"] if c["check"] == "log")
    assert log_check["status"] == "error" and any("before the entry before it" in d for d in log_check["details"])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_check_reads_the_rehearsal_clock(home, tmp_path):
    """`gateway check` read the real clock: in a 2020 rehearsal it said every file was outside
    the approval's period."""
    run_gateway("approval", "add", str(APPROVALS / "kurume-2020-teigaku.toml"), env={"GATEWAY_FAKE_NOW": PERIOD})
    source = tmp_path / "r.csv"
    run_gateway("generate", "recipients", "--count", "20", "--schema", "kurume-2020", "-o", str(source))
    out = run_gateway("check", str(source), "--approval", "kurume-2020-teigaku", "--recipient", "chikugo-print",
                      "--profile", "vpn-sftp", "--json", env={"GATEWAY_FAKE_NOW": PERIOD})
    assert json.loads(out.stdout)["allowed"] is True


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_rotate_signing_dates_its_statement_by_the_home_clock(home):
    statement = json.loads(run_gateway("keys", "rotate-signing", env={"GATEWAY_FAKE_NOW": PERIOD}).stdout)
    assert statement["at"] == "2020-06-01T01:00:00.000000Z"
