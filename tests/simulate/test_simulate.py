"""`gateway simulate`: the auditor reports exactly the injected faults, and none without them."""
from __future__ import annotations

import hashlib
import json
import random
import socket

import pytest

from gateway.simulate.faults import KINDS
from tests.conftest import run_audit, run_gateway

ONLY_WITH_EXCLUSIONS = {"excluded-person"}
# kurume-2020's approval imposes no recurring duty of the contract; shinjuku-2020's does (立入調査).
ONLY_WITH_DUTIES = {"compliance-overdue"}
# shinjuku-2020 hands no courier media over: faults of media custody cannot be woven into it.
ONLY_WITH_MEDIA = {"password-same-day", "media-not-returned", "custody-gap"}
# Two faults of the same receipt cannot both happen: one confirms wrongly, the other never does;
# nor two of the same media's return: it is either never returned or reported lost.
# (download-over-limit and integrity-failure combine: the damaged package's refused download is a
# broken one, a retry, before the one complete download the second copy is refused after.)
EXCLUSIVE = [{"receipt-mismatch", "receipt-missing"}, {"media-not-returned", "custody-gap"}]


@pytest.fixture(autouse=True)
def fast_scrypt(monkeypatch):
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    monkeypatch.delenv("GATEWAY_FAKE_NOW", raising=False)


def simulate(tmp_path, scenario: str, *faults: str, records: int = 200, seed: int = 1) -> dict:
    out = tmp_path / ("run-" + "-".join(faults or ("clean",)))
    args = ["simulate", scenario, "--records", str(records), "--seed", str(seed), "-o", str(out), "--json"]
    for f in faults:
        args += ["--fault", f]
    return json.loads(run_gateway(*args).stdout)


@pytest.mark.parametrize("scenario", ["kurume-2020", "shinjuku-2020", "shinjuku-nhi-cdr"])
def test_a_run_without_faults_reports_none(tmp_path, scenario):
    result = simulate(tmp_path, scenario)
    assert result["findings"] == [] and result["injected"] == [] and result["verified"] is True
    assert "courier" in result["channels"]
    for key in ("scenario", "records", "transfers", "channels", "seconds", "bundle", "injected", "findings"):
        assert key in result


@pytest.mark.parametrize("kind", sorted(set(KINDS) - ONLY_WITH_EXCLUSIONS - ONLY_WITH_DUTIES))
def test_each_fault_alone_is_found(tmp_path, kind):
    result = simulate(tmp_path, "kurume-2020", kind)
    assert result["injected"] == [kind]
    assert result["findings"] == [kind]


def test_a_missed_inspection_is_found_exactly(tmp_path):
    result = simulate(tmp_path, "shinjuku-2020", "compliance-overdue")
    assert result["injected"] == ["compliance-overdue"] and result["findings"] == ["compliance-overdue"]
    report = json.loads((tmp_path / "run-compliance-overdue" / "report.json").read_text())
    [finding] = [f for f in report["findings"] if f["kind"] == "compliance-overdue"]
    assert finding["approval"] == "shinjuku-2020-teigaku" and "FY2020" in finding["detail"]
    assert finding["severity"] == "warning"
    clean = simulate(tmp_path, "shinjuku-2020")
    assert clean["findings"] == []
    ledger = json.loads((tmp_path / "run-clean" / "report.json").read_text())["approval_summaries"][0]["duties"]
    assert [(d["duty"], d["slot"], d["state"]) for d in ledger] == [("inspection", "FY2020", "met")]


def test_excluded_persons_slipping_through_are_stopped_and_reported(tmp_path):
    result = simulate(tmp_path, "shinjuku-2020", "excluded-person", records=400)
    assert result["findings"] == ["excluded-person"]


def test_a_fault_the_scenario_cannot_have_is_refused_clearly(tmp_path):
    proc = run_gateway("simulate", "kurume-2020", "--records", "50", "--fault", "excluded-person",
                       "-o", str(tmp_path / "x"), check=False)
    assert proc.returncode == 1 and "excludes no population" in proc.stderr


@pytest.mark.parametrize("seed", [11, 23, 37])
def test_random_combinations_are_found_exactly(tmp_path, seed):
    rng = random.Random(seed)
    pool = sorted(set(KINDS) - ONLY_WITH_MEDIA)
    kinds = set(rng.sample(pool, rng.randint(2, 5)))
    for group in EXCLUSIVE:
        while len(kinds & group) > 1:
            kinds.discard(sorted(kinds & group)[0])
    result = simulate(tmp_path, "shinjuku-2020", *sorted(kinds), records=300, seed=seed)
    assert result["findings"] == sorted(kinds), (seed, kinds)


@pytest.mark.parametrize("kind", ["password-same-day", "media-not-returned", "custody-gap"])
def test_courier_faults_on_the_cdr_flow(tmp_path, kind):
    assert simulate(tmp_path, "shinjuku-nhi-cdr", kind)["findings"] == [kind]


def test_komae_erases_at_the_seeds_worked_example_roll_over(tmp_path):
    """「平成27年4月1日の課税賦課事務情報は，平成33年4月1日付けで抹消される」: counted from the
    records' fiscal year, not from the end of the approval's period."""
    result = simulate(tmp_path, "komae-2015", records=300)
    assert result["findings"] == []
    bundle = tmp_path / "run-clean" / "bundle"
    transfer = json.loads(next((bundle / "evidence").glob("transfer-*.json")).read_text())
    assert transfer["contractor_deletion_due"] == "2021-03-31T15:00:00.000000Z"  # 2021-04-01 00:00 JST
    assert transfer["deletion_base"] == {"base": "record-fiscal-year", "record_fiscal_year": 2015}
    # Each condition's kind and status: checked by a rule, confirmed by a person, or open.
    report = json.loads((tmp_path / "run-clean" / "report.json").read_text())
    conditions = {c["number"]: c for c in report["approval_summaries"][0]["conditions"]}
    assert conditions[1]["kind"] == "council-condition" and conditions[1]["status"] == {"state": "open"}
    assert conditions[2]["kind"] == "special-term" and conditions[2]["status"]["state"] == "confirmed"
    assert conditions[2]["status"]["by"]["user"] == "komae.staff" and "報告書" in conditions[2]["status"]["means"]
    assert conditions[8]["status"]["state"] == "checked"
    assert conditions[8]["status"]["rule"] == "erasure-certificate-required"
    late = simulate(tmp_path, "komae-2015", "deletion-overdue", records=300)
    assert late["findings"] == ["deletion-overdue"]


def test_people_reach_the_gateway_over_the_network(tmp_path):
    """The LGWAN-ASP hand-over travels over the portal (mutual TLS, from each person's terminal),
    the VPN one over SFTP; the log says so for every act of the people."""
    result = simulate(tmp_path, "kurume-2020", records=100)
    assert result["findings"] == []
    entries = [json.loads(line) for line in
               (tmp_path / "run-clean" / "bundle" / "log" / "entries.jsonl").read_text().splitlines() if line]
    sent = {e["object"]["transfer"]: e for e in entries if e["action"] == "transfer.send" and e["outcome"] == "ok"}
    by_channel = {e["channel"]: t for t, e in sent.items()}
    portal = by_channel["lgwan-asp"]
    acts = [e for e in entries if e["object"]["transfer"] == portal and e["action"] in (
        "transfer.send", "notice.dispatch", "transfer.download", "transfer.receipt")]
    acts += [e for e in entries if e["action"] in ("deletion.request", "deletion.decide", "deletion.certify")
             and e["channel"] == "lgwan-asp"]
    assert sorted({e["action"] for e in acts}) == ["deletion.certify", "deletion.decide", "deletion.request",
                                                  "notice.dispatch",
                                                  "transfer.download", "transfer.receipt", "transfer.send"]
    for e in acts:
        assert e["channel"] == "lgwan-asp" and e["source"] == "127.0.0.1", e
        assert len(e["actor"]["terminal"] or "") == 64, e  # the SHA-256 of the person's terminal certificate
    # Every password notice is recorded on the portal, whatever channel its data took.
    assert {e["channel"] for e in entries if e["action"] == "notice.dispatch"} == {"lgwan-asp"}
    downloads = {e["channel"] for e in entries if e["action"] == "transfer.download" and e["outcome"] == "ok"}
    assert downloads == {"lgwan-asp", "vpn-sftp"}  # courier packages are read from the media images
    # Each person logged in with their own initial password once, changed it, and used the new one.
    changes = [e["actor"]["user"] for e in entries if e["action"] == "auth.password-change"]
    assert len(changes) == len(set(changes)) and "kurume.staff" in changes


def test_kurume_pushes_the_set_up_package_to_the_contractors_sshd(tmp_path):
    """The set-up hand-over also goes to the contractor's own SFTP server (a real OpenSSH sshd the
    run starts and stops), after an operator pinned its host key; the auditor finds nothing wrong."""
    result = simulate(tmp_path, "kurume-2020", records=120)
    assert result["findings"] == [] and result["verified"] is True
    out = tmp_path / "run-clean"
    entries = [json.loads(line) for line in (out / "bundle" / "log" / "entries.jsonl").read_text().splitlines()
               if line]
    setup = next(e["object"]["transfer"] for e in entries
                 if e["action"] == "transfer.send" and e["channel"] == "cli" and e["outcome"] == "ok")
    pinned = [e for e in entries if e["action"] == "org.pin-host"]
    pushed = [e for e in entries if e["action"] == "transfer.push"]
    assert [e["outcome"] for e in pinned] == ["ok"] and [e["outcome"] for e in pushed] == ["ok"]
    assert pinned[0]["seq"] < pushed[0]["seq"]
    push = pushed[0]
    assert push["object"]["transfer"] == setup and push["channel"] == "vpn-sftp"
    assert push["actor"]["user"] == "kurume.staff"
    landed = out / "contractor-sshd" / "incoming" / f"{setup}.age"
    assert hashlib.sha256(landed.read_bytes()).hexdigest() == push["object"]["blob_sha256"]
    assert run_audit("verify", str(out / "bundle"), trust=out / "trust.toml").returncode == 0
    # The sshd was stopped at the end: nothing listens on its port any more.
    port = int(push["reason"].split(":")[1].split("/")[0])
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_the_operators_steps_run_at_the_command_line(tmp_path):
    """What no network way in exists for is done at the gateway's command line (channel `cli`) by
    the city's named operators, at the scenario's time; what a contractor hands in on paper there
    says who entered it. The contractors themselves act through gateway-client over the channels,
    and sign what they attest."""
    result = simulate(tmp_path, "kurume-2020", records=80)
    assert result["findings"] == []
    entries = [json.loads(line) for line in
               (tmp_path / "run-clean" / "bundle" / "log" / "entries.jsonl").read_text().splitlines() if line]
    by_action = {}
    for e in entries:
        if e["outcome"] == "ok":
            by_action.setdefault(e["action"], []).append(e)
    cli = {(e["action"], e["actor"]["user"]) for e in entries if e["channel"] == "cli" and e["outcome"] == "ok"}
    assert ("transfer.send", "kurume.staff") in cli and ("deletion.decide", "kurume.staff") in cli
    # The rehearsal's frame maps the staff to operators, as the administrator (the `simulator` OS user).
    assert ("operator.add", "admin") in cli
    # The relay to the subcontractor is the contractor's paper request, entered by city staff.
    relay = next(e for e in by_action["transfer.send"] if e["actor"]["user"] == "k.tanaka")
    assert relay["channel"] == "cli" and "entered by kurume.staff" in relay["reason"]
    # Receipts, deletion requests and certificates: the handlers', over the VPN line, signed.
    for action in ("transfer.receipt", "deletion.request", "deletion.certify"):
        assert {(e["channel"], e["actor"]["user"]) for e in by_action[action]} >= {
            ("vpn-sftp", "k.tanaka"), ("vpn-sftp", "y.hirano")}, action
        assert not [e for e in by_action[action] if e["channel"] == "cli"], action
    assert result["attestations"]["signed"] == result["attestations"]["ssh_keygen_verified"] \
        == result["attestations"]["audit_verified"] == 9
    assert {e["channel"] for e in by_action["courier.handover"] + by_action["courier.return"]} == {"courier"}
    # The scenario's clock, not the wall clock: every entry is dated inside 2020.
    assert all(e["at"].startswith("2020-") for e in entries)
