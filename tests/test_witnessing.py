"""The gateway and a real witness (`audit witness serve`, its own process on 127.0.0.1): what the
city's operator does at the command line, and what the auditor makes of the bundles.

Each test plays one of the README's procedures or one way a witness can fail (down, hung, its
state ahead of the gateway's record, a key it does not know yet), and checks both what the gateway
says (`gateway witness list`) and what the independent auditor concludes under the published
policy.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from audit.cosignature import Cosigner
from audit.note import generate_key, parse_verifier_key
from gateway.home import Home
from gateway.service import Gateway
from gateway.store.models_witness import Witness
from tests.audit.witness_process import Council
from tests.conftest import BIN, IN_PERIOD, run_audit, run_gateway
from tests.helpers import send


@pytest.fixture
def sqlite_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "home"
    monkeypatch.setenv("GATEWAY_HOME", str(root))
    monkeypatch.delenv("GATEWAY_DB_URL", raising=False)
    monkeypatch.setenv("GATEWAY_FAKE_NOW", IN_PERIOD)
    run_gateway("init", "--rehearsal", "--log-origin", "kurume.example.jp/gateway")
    return root


@pytest.fixture
def council(tmp_path: Path, sqlite_home: Path) -> Iterator[Council]:
    c = Council(tmp_path / "witness", sqlite_home).start()
    yield c
    c.stop()


def logged_refusal(tmp_path: Path, name: str = "missing.toml") -> None:
    """One more entry, and the checkpoint the command writes as it closes the installation."""
    assert run_gateway("approval", "add", str(tmp_path / name), check=False).returncode == 1


def witnessed_state(name: str = "council.kurume.example.jp/witness") -> dict:
    (row,) = [w for w in json.loads(run_gateway("witness", "list", "--json").stdout) if w["witness"] == name]
    return row


def export(tmp_path: Path, name: str) -> Path:
    bundle = tmp_path / name
    run_gateway("export", "evidence", "-o", str(bundle))
    return bundle


def verify(bundle: Path, policy: Path) -> tuple[int, dict]:
    proc = run_audit("verify", str(bundle), "--json", trust=policy, check=False)
    return proc.returncode, json.loads(proc.stdout)


def log_size(bundle: Path) -> int:
    return json.loads((bundle / "MANIFEST.json").read_bytes())["log"]["size"]


def test_a_witnessed_export_verifies_under_the_published_policy(home: Path, tmp_path: Path) -> None:
    """On SQLite and PostgreSQL: add the witness, publish, export, verify."""
    council = Council(tmp_path / "witness", home).start()
    try:
        added = json.loads(run_gateway("witness", "add", council.url + "/", "--key", str(council.vkey),
                                       "--json").stdout)
        assert added["witness"] == council.vkey.name and added["submitted"]["error"] is None
        assert added["submitted"]["cosigned"]  # the checkpoint `witness add` wrote, cosigned at once
        policy = tmp_path / "trust.toml"
        published = json.loads(run_gateway("keys", "publish", "-o", str(policy), "--json").stdout)
        assert published["witnesses"] == [str(council.vkey)] and published["quorum"] == 1
        assert oct(policy.stat().st_mode & 0o777) == "0o644"  # nothing in it is secret
        run_gateway("approval", "add", str(Path(__file__).parent / "data" / "approval-basic.toml"))
        bundle = export(tmp_path, "bundle")
        proc = run_audit("verify", str(bundle), trust=policy)
        assert "検証成功 verified" in proc.stdout
        assert f"witnesses {council.vkey.name} (quorum 1); 連署済み / witnessed up to entry {log_size(bundle)}" \
            in proc.stdout
        notes = sorted((bundle / "checkpoints").glob("*.note"), key=lambda p: int(p.stem))
        assert int(notes[-1].stem) == log_size(bundle)
        origin = json.loads(run_gateway("keys", "show", "--json").stdout)["origin"]
        lines = notes[-1].read_text(encoding="utf-8").split("\n")
        assert lines[:2] == [origin, str(log_size(bundle))] and lines[3] == "" and lines[-1] == ""
        assert lines[4].startswith(f"— {origin} ")  # the gateway's signature, then the witness's
        assert lines[5].startswith(f"— {council.vkey.name} ") and len(lines) == 7
        assert witnessed_state()["size"] == log_size(bundle)
        actions = [e["action"] for e in json.loads(run_gateway("log", "--json").stdout)]
        assert {"witness.add", "keys.publish"} <= set(actions)
    finally:
        council.stop()


def test_a_witness_that_is_down_never_fails_a_hand_over_and_the_tail_is_reported(
        sqlite_home: Path, council: Council, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import APPROVALS

    run_gateway("witness", "add", council.url, "--key", str(council.vkey))
    policy = tmp_path / "trust.toml"
    run_gateway("keys", "publish", "-o", str(policy))
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    run_gateway("approval", "add", str(APPROVALS / "kurume-2020-teigaku.toml"))
    run_gateway("user", "add", "s.staff", "--org", "kurume", "--role", "staff", "--name", "職員 一郎")
    source = tmp_path / "recipients.csv"
    run_gateway("generate", "recipients", "--count", "300", "--schema", "kurume-2020", "--seed", "7", "-o", str(source))
    witnessed = log_size(export(tmp_path, "before"))
    council.stop()  # the council's server is down for the rest of the day

    sent = json.loads(send(source, tmp_path).stdout)  # the hand-over does not notice
    assert sent["records"] == 300
    monkeypatch.setenv("GATEWAY_WITNESS_EXPORT_WAIT_SECONDS", "2")
    t0 = time.monotonic()
    bundle = export(tmp_path, "down")
    assert time.monotonic() - t0 < 15  # the export waited its bound, not forever
    code, out = verify(bundle, policy)
    assert code == 1 and {f["kind"] for f in out["failures"]} == {"log-unwitnessed"}
    assert out["witnessed"] == witnessed
    rep = json.loads(run_audit("report", str(bundle), "--json", trust=policy).stdout)
    serious = [(f["kind"], f["severity"]) for f in rep["findings"] if f["severity"] != "info" and not f["prevented"]]
    assert serious == [("log-unwitnessed", "warning")]
    state = witnessed_state()
    assert state["size"] == witnessed and "unreachable" in state["last_error"] and state["failures"] >= 1

    council.start()  # back, with the state it kept
    # The export asks for its own final head only: one request, proven from where the witness was,
    # rather than the backlog first; the heads written during the outage stay uncosigned.
    after = export(tmp_path, "after")
    code, out = verify(after, policy)
    assert code == 0, out["failures"]
    heads = {h["size"]: h["cosigners"] for h in out["log"]["tree_heads"]}
    assert heads[log_size(after)] == [council.vkey.name]
    assert [size for size, by in heads.items() if witnessed < size < log_size(after) and by] == []


def test_a_hung_witness_costs_an_export_its_bound_and_nothing_more(
        sqlite_home: Path, council: Council, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_gateway("witness", "add", council.url, "--key", str(council.vkey))
    policy = tmp_path / "trust.toml"
    run_gateway("keys", "publish", "-o", str(policy))
    os.kill(council.pid, signal.SIGSTOP)  # accepts connections (the kernel does), answers none
    try:
        monkeypatch.setenv("GATEWAY_WITNESS_EXPORT_WAIT_SECONDS", "3")
        t0 = time.monotonic()
        bundle = export(tmp_path, "hung")
        took = time.monotonic() - t0
        code, out = verify(bundle, policy)
        assert code == 1 and {f["kind"] for f in out["failures"]} == {"log-unwitnessed"}
        assert took < 15, took
        assert "timed out" in witnessed_state()["last_error"]
    finally:
        os.kill(council.pid, signal.SIGCONT)


def test_a_gateway_whose_record_of_the_witness_is_stale_resynchronises(
        sqlite_home: Path, council: Council, tmp_path: Path) -> None:
    """The database was restored from last night's backup: it believes the witness is at 0. The
    witness answers 409 with the size it really cosigned, and the gateway resends from there."""
    run_gateway("witness", "add", council.url, "--key", str(council.vkey))
    for n in range(3):
        logged_refusal(tmp_path)
    run_gateway("witness", "submit")
    cosigned = witnessed_state()["size"]
    gw = Gateway.open(Home.resolve(str(sqlite_home)))
    with gw.unit() as s:
        s.execute(update(Witness).values(size=0))
    gw.engine.dispose()
    logged_refusal(tmp_path)
    out = json.loads(run_gateway("witness", "submit", "--json").stdout)[0]
    assert out["error"] is None and out["size"] > cosigned
    policy = tmp_path / "trust.toml"
    run_gateway("keys", "publish", "-o", str(policy))
    assert verify(export(tmp_path, "bundle"), policy)[0] == 0


def test_gateway_serve_submits_in_the_background_and_retries_a_witness_that_was_down(
        sqlite_home: Path, tmp_path: Path) -> None:
    council = Council(tmp_path / "witness", sqlite_home).start()
    run_gateway("witness", "add", council.url, "--key", str(council.vkey))
    council.stop()
    env = {**os.environ, "GATEWAY_WITNESS_POLL_SECONDS": "1", "GATEWAY_WITNESS_BACKOFF_MAX_SECONDS": "2"}
    serve = subprocess.Popen([str(BIN / "gateway"), "serve", "--portal-port", "0", "--bind", "127.0.0.1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        for n in range(3):  # other processes log and checkpoint meanwhile
            logged_refusal(tmp_path)
        assert witnessed_state()["size"] < head_size(sqlite_home)
        council.start()
        deadline = time.monotonic() + 30
        while witnessed_state()["size"] < head_size(sqlite_home) and time.monotonic() < deadline:
            time.sleep(0.5)
        state = witnessed_state()
        assert state["size"] == head_size(sqlite_home) and state["last_error"] is None
    finally:
        serve.terminate()
        serve.wait(timeout=60)
        council.stop()


def head_size(home: Path) -> int:
    from sqlalchemy import func, select

    from gateway.store import models as m

    gw = Gateway.open(Home.resolve(str(home)))
    with gw.read() as s:
        size = int(s.scalar(select(func.max(m.Checkpoint.size))) or 0)
    gw.engine.dispose()
    return size


def test_rotating_the_gateway_s_key_as_the_readme_says(sqlite_home: Path, tmp_path: Path) -> None:
    """README, "Rotating the gateway's key": rotate, publish, the witness operator adds the new
    key; a verifier holding the old policy follows the rotation through keys.json."""
    council = Council(tmp_path / "witness", sqlite_home).start()
    try:
        run_gateway("witness", "add", council.url, "--key", str(council.vkey))
        old_policy = tmp_path / "old.trust.toml"
        run_gateway("keys", "publish", "-o", str(old_policy))
        run_gateway("keys", "rotate-signing")
        logged_refusal(tmp_path)  # a checkpoint signed by the new key
        refused = json.loads(run_gateway("witness", "submit", "--json", check=False).stdout)[0]
        assert "HTTP 403" in refused["error"]  # the witness does not know the new key yet
        new_policy = tmp_path / "new.trust.toml"
        published = json.loads(run_gateway("keys", "publish", "-o", str(new_policy), "--json").stdout)
        assert len(published["log_keys"]) == 2  # genesis and current
        # The witness operator checks the rotation under the policy it already holds.
        code, out = verify(export(tmp_path, "rotation-bundle"), old_policy)
        assert code == 1 and {f["kind"] for f in out["failures"]} == {"log-unwitnessed"}
        new_id = json.loads(run_gateway("keys", "show", "--json").stdout)["current"]
        assert new_id in out["trusted_keys"] and len(out["trusted_keys"]) == 2
        council.stop()
        council.logs.append(parse_verifier_key(published["current_key"]))  # the operator restarts it with both
        council.start()
        assert json.loads(run_gateway("witness", "submit", "--json").stdout)[0]["error"] is None
        bundle = export(tmp_path, "bundle")
        for policy in (old_policy, new_policy):
            code, out = verify(bundle, policy)
            assert code == 0, (policy.name, out["failures"])
            assert len(out["trusted_keys"]) == 2
    finally:
        council.stop()


def test_replacing_a_witness_as_the_readme_says(sqlite_home: Path, tmp_path: Path) -> None:
    first = Council(tmp_path / "first", sqlite_home, "council.kurume.example.jp/witness").start()
    second = Council(tmp_path / "second", sqlite_home, "pref.fukuoka.example.jp/witness").start()
    try:
        run_gateway("witness", "add", first.url, "--key", str(first.vkey))
        old_policy = tmp_path / "old.trust.toml"
        run_gateway("keys", "publish", "-o", str(old_policy))
        early = export(tmp_path, "early")
        run_gateway("witness", "add", second.url, "--key", str(second.vkey))
        run_gateway("witness", "remove", first.vkey.name)
        first.stop()
        policy = tmp_path / "trust.toml"
        published = json.loads(run_gateway("keys", "publish", "-o", str(policy), "--json").stdout)
        assert published["witnesses"] == [str(second.vkey)] and published["quorum"] == 1
        late = export(tmp_path, "late")
        assert verify(late, policy)[0] == 0
        assert verify(early, old_policy)[0] == 0  # bundles made before still verify under the policy of their time
        code, out = verify(late, old_policy)  # the old policy cannot vouch for the new witness's heads
        assert code == 1 and {f["kind"] for f in out["failures"]} == {"log-unwitnessed"}
        listed = json.loads(run_gateway("witness", "list", "--all", "--json").stdout)
        assert [(w["witness"], w["removed_at"] is not None) for w in listed] == [
            (first.vkey.name, True), (second.vkey.name, False)]
    finally:
        first.stop()
        second.stop()


def test_witness_add_refuses_what_is_not_another_party_s_witness_key(sqlite_home: Path) -> None:
    own = json.loads(run_gateway("keys", "show", "--json").stdout)["current_verifier_key"]
    for key, why in ((own, "cosignature/v1"), ("council+0000+AAAA", "verifier key")):
        proc = run_gateway("witness", "add", "http://127.0.0.1:9", "--key", key, "--json", check=False)
        assert proc.returncode == 1 and why in proc.stderr
        assert json.loads(proc.stdout.strip().splitlines()[-1])["category"] == "invalid"
    key = Cosigner.from_signer(generate_key("w.example/w")).verifier
    proc = run_gateway("witness", "add", "ftp://w.example/", "--key", str(key), check=False)
    assert proc.returncode == 1 and "URL" in proc.stderr
    refused = [e for e in json.loads(run_gateway("log", "--outcome", "refused", "--json").stdout)]
    assert [e["action"] for e in refused] == ["witness.add"] * 3


def test_a_gateway_rolled_back_to_a_backup_is_stopped_by_the_witness(
        sqlite_home: Path, council: Council, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Restoring last night's copy of the database rewrites the log's tail: the witness has
    cosigned heads the restored log never had, and it neither forgets nor cosigns the other history."""
    import shutil

    run_gateway("witness", "add", council.url, "--key", str(council.vkey))
    backup = tmp_path / "backup"
    shutil.copytree(sqlite_home, backup)
    for n in range(3):
        logged_refusal(tmp_path)
    run_gateway("witness", "submit")
    cosigned = witnessed_state()["size"]
    monkeypatch.setenv("GATEWAY_HOME", str(backup))  # the operator restores the copy
    # What happens next differs from what the lost tail said (the clock is fixed: only the
    # content tells two histories apart, and identical entries would be the same history).
    logged_refusal(tmp_path, "other.toml")
    proc = run_gateway("witness", "submit", "--json", check=False)
    assert proc.returncode == 1
    (out,) = json.loads(proc.stdout)
    assert out["cosigned"] == [] and f"cosigned size {cosigned}, beyond this log's" in out["error"]
    for n in range(6):  # the restored log grows past what the witness saw: another history
        logged_refusal(tmp_path, "other.toml")
    proc = run_gateway("witness", "submit", "--json", check=False)
    (out,) = json.loads(proc.stdout)
    assert proc.returncode == 1 and out["cosigned"] == [] and out["size"] == cosigned
    assert "HTTP 409" in out["error"] and "fork" in out["error"]  # the same size, another root
    assert witnessed_state()["last_error"] == out["error"]
    assert list((tmp_path / "witness" / "state" / "refused").iterdir())  # kept as evidence
