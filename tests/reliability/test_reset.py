"""A reset is never silent (issue 26, finding 2): an emptied database followed by `gateway init`
started a new chain under the same genesis key, and the auditor, even pinned, verified the
two-entry history as complete."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import APPROVALS, city_policy, run_audit, run_gateway

ADD = ["approval", "add", str(APPROVALS / "kurume-2020-teigaku.toml")]
LATER = {"GATEWAY_FAKE_NOW": "2020-06-02T10:00:00+09:00"}
LATEST = {"GATEWAY_FAKE_NOW": "2020-06-03T10:00:00+09:00"}


@pytest.fixture
def emptied(home, tmp_path, db_url):
    """A home with a log of a few entries whose SQLite database was then emptied."""
    run_gateway(*ADD, env={"GATEWAY_FAKE_NOW": "2020-06-01T10:00:00+09:00"})
    before = tmp_path / "before"
    run_gateway("export", "evidence", "-o", str(before), env=LATER)
    head = json.loads((before / "MANIFEST.json").read_text())["log"]
    # The policy the city published before the loss: the verifier still holds it afterwards.
    policy = city_policy(home, tmp_path / "city.trust.toml")
    database = Path(db_url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    database.write_bytes(b"")
    return head, before, policy


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_init_refuses_a_home_whose_log_was_lost(emptied, home):
    proc = run_gateway("init", "--rehearsal", check=False, env=LATEST)
    assert proc.returncode == 1
    assert "emptied or replaced" in proc.stderr and "--reinitialise" in proc.stderr and "データベース" in proc.stderr
    # Nothing was started: the next command still finds no log, and init still refuses.
    assert run_gateway("log", check=False).returncode == 1
    assert run_gateway("init", check=False, env=LATEST).returncode == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_reinitialisation_is_signed_names_the_lost_head_and_the_auditor_shows_it(emptied, home, tmp_path):
    head, _, policy = emptied
    out = json.loads(run_gateway("init", "--reinitialise", "--json", env=LATEST).stdout)
    assert out["reinitialised"] is True and out["rehearsal"] is True  # the home record said so
    restart = [e for e in json.loads(run_gateway("log", "--json").stdout) if e["action"] == "home.reinitialise"]
    assert len(restart) == 1 and str(head["size"]) in restart[0]["reason"] and head["head"] in restart[0]["reason"]
    assert restart[0]["evidence"] is not None  # a signed reinitialisation document
    after = tmp_path / "after"
    run_gateway("export", "evidence", "-o", str(after), env=LATEST)
    # The same keys and origin: the policy published before the loss verifies the new log, and
    # only the record of the reset tells the two histories apart.
    verified = run_audit("verify", str(after), trust=policy)
    assert "re-initialised" in verified.stdout and head["head"] in verified.stdout
    rep = json.loads(run_audit("report", str(after), "--json", trust=policy).stdout)
    (restarted,) = rep["home"]["reinitialised"]
    assert restarted["verified"] is True
    assert restarted["previous"]["size"] == head["size"] and restarted["previous"]["head"] == head["head"]
    # A bundle scoped to one approval shows it too.
    scoped = tmp_path / "scoped"
    run_gateway(*ADD, env=LATEST)
    run_gateway("export", "evidence", "--approval", "kurume-2020-teigaku", "-o", str(scoped), env=LATEST)
    assert json.loads(run_audit("report", str(scoped), "--json", trust=policy).stdout)["home"]["reinitialised"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_operator_may_name_the_previous_head(emptied, home):
    head, _, _ = emptied
    (home / "log-head.json").unlink()
    named = f"{head['size']}:{head['head']}"
    run_gateway("init", "--reinitialise", "--rehearsal", "--previous-head", named, env=LATEST)
    restart = [e for e in json.loads(run_gateway("log", "--json").stdout) if e["action"] == "home.reinitialise"]
    assert "from operator" in restart[0]["reason"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_restart_cannot_date_itself_before_the_lost_log(emptied, home):
    proc = run_gateway("init", "--reinitialise", check=False, env={"GATEWAY_FAKE_NOW": "2020-05-01T10:00:00+09:00"})
    assert proc.returncode == 1 and "earlier than the log's last entry" in proc.stderr


def test_a_reinitialisation_needs_a_lost_log(home):
    proc = run_gateway("init", "--reinitialise", check=False)
    assert proc.returncode == 1 and "nothing to re-initialise" in proc.stderr
