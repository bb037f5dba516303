"""The second person's check through the command line, with the auditor as the judge (issue 20, item 1)."""
from __future__ import annotations

import json
import re

from tests.conftest import city_policy, run_audit, run_gateway
from tests.safeguards.conftest import CHECKED, as_, send_checked


def report(home, tmp_path, name="bundle") -> dict:
    bundle = tmp_path / name
    run_gateway("export", "evidence", "--approval", CHECKED, "-o", str(bundle))
    policy = city_policy(home)
    assert run_audit("verify", str(bundle), trust=policy).returncode == 0
    return json.loads(run_audit("report", str(bundle), "--json", trust=policy).stdout)


def refusal(proc) -> dict:
    assert proc.returncode == 1, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_send_above_the_threshold_waits_and_nothing_leaves(checked, home, tmp_path):
    notice = tmp_path / "notice.html"
    sent = json.loads(send_checked(checked, "--notice", str(notice)).stdout)
    assert sent["state"] == "pending-check" and sent["passphrase"] is None and sent["notice"] is None
    assert not notice.exists()  # no passphrase exists on paper before the check
    t = sent["transfer"]
    # The contractor neither sees nor gets it, on any way in.
    fetch = run_gateway("fetch", t, "-o", str(tmp_path / "p.age"), *as_("k.tanaka"), "--json", check=False)
    assert refusal(fetch)["kinds"] == ["second-check-missing"]
    assert not (tmp_path / "p.age").exists()
    dispatch = run_gateway("notice", "dispatch", t, "--method", "registered-mail", *as_("s.staff"), "--json",
                           check=False)
    assert refusal(dispatch)["kinds"] == ["second-check-missing"]
    # The checker sees what identifies it, never a record.
    shown = json.loads(run_gateway("second-check", "show", t, *as_("s.checker"), "--json").stdout)
    assert shown["record_count"] == 300 and shown["sha256"] == sent["sha256"]
    assert shown["recipient"]["org"] == "chikugo-print" and shown["channel"] == "lgwan-asp"
    assert "name" in shown["columns"] and shown["reasons"] == ["records>100"]
    listed = json.loads(run_gateway("second-check", "list", *as_("s.checker"), "--json").stdout)
    assert [r["transfer"] for r in listed] == [t]
    assert json.loads(run_gateway("second-check", "list", *as_("s.other"), "--json").stdout) == []


def test_self_approval_and_outsiders_are_refused_and_logged(checked, home, tmp_path):
    t = json.loads(send_checked(checked).stdout)["transfer"]
    own = run_gateway("second-check", "approve", t, "--reason", "自分で確認", *as_("s.staff"), "--json", check=False)
    assert refusal(own)["category"] == "forbidden" and refusal(own)["kinds"] == ["second-check-missing"]
    other = run_gateway("second-check", "approve", t, "--reason", "確認", *as_("s.other"), "--json", check=False)
    assert refusal(other)["kinds"] == ["second-check-missing"]
    contractor = run_gateway("second-check", "approve", t, "--reason", "確認", *as_("k.tanaka"), "--json", check=False)
    assert refusal(contractor)["category"] == "not-found"
    empty = run_gateway("second-check", "approve", t, "--reason", "  ", *as_("s.checker"), "--json", check=False)
    assert refusal(empty)["category"] == "invalid"
    log = json.loads(run_gateway("log", "--action", "second-check.approve", "--json").stdout)
    assert [e["outcome"] for e in log] == ["refused"] * 4
    rep = report(home, tmp_path)
    prevented = [f for f in rep["findings"] if f["kind"] == "second-check-missing"]
    assert len(prevented) == 2 and all(f["prevented"] for f in prevented)
    # Still held: nothing was released by the refused attempts.
    assert json.loads(run_gateway("second-check", "show", t, *as_("s.checker"), "--json").stdout)["state"] \
        == "pending-check"


def test_approval_releases_package_and_notice(checked, home, tmp_path):
    sent = json.loads(send_checked(checked).stdout)
    t = sent["transfer"]
    notice = tmp_path / "notice.html"
    done = json.loads(run_gateway("second-check", "approve", t, "--reason", "宛先・件数・項目を確認",
                                  "--notice", str(notice), *as_("s.checker"), "--json").stdout)
    assert done["approved"] is True
    passphrase = re.search(r"<td class=\"passphrase\">([2-9A-Z-]+)</td>", notice.read_text(encoding="utf-8")).group(1)
    assert passphrase == done["passphrase"]
    again = run_gateway("second-check", "approve", t, "--reason", "再度", *as_("s.checker"), "--json", check=False)
    assert refusal(again)["category"] == "conflict"
    package = tmp_path / "package.age"
    run_gateway("fetch", t, "-o", str(package), *as_("k.tanaka"))
    (tmp_path / "pass").write_text(passphrase + "\n")
    out = run_gateway("package", "decrypt", str(package), "-o", str(tmp_path / "plain.csv"),
                      "--passphrase-file", str(tmp_path / "pass")).stdout
    assert sent["sha256"] in out
    run_gateway("receipt", t, "--records", "300", "--sha256", sent["sha256"], *as_("k.tanaka"))
    rep = report(home, tmp_path)
    assert rep["verified"] is True
    assert {f["kind"] for f in rep["findings"] if not f["prevented"]} == set()
    summary = rep["approval_summaries"][0]["transfers"][0]
    assert summary["second_check"]["decision"] == "approved" and summary["second_check"]["checked_by"]["user"] \
        == "s.checker"


def test_rejection_erases_at_once(checked, home, tmp_path):
    t = json.loads(send_checked(checked).stdout)["transfer"]
    done = json.loads(run_gateway("second-check", "reject", t, "--reason", "宛先誤り", *as_("s.checker"),
                                  "--json").stdout)
    assert done["approved"] is False and done["passphrase"] is None
    fetch = run_gateway("fetch", t, "-o", str(tmp_path / "p.age"), *as_("k.tanaka"), "--json", check=False)
    assert refusal(fetch)["kinds"] == ["second-check-missing"]
    erasures = json.loads(run_gateway("log", "--action", "transfer.erase", "--json").stdout)
    assert [e["object"]["transfer"] for e in erasures] == [t]
    rep = report(home, tmp_path)
    # A rejected send owes no receipt and no erasure certificate.
    assert {f["kind"] for f in rep["findings"] if not f["prevented"]} == set()


def test_a_small_send_goes_at_once_unless_the_sender_asks(checked, home, tmp_path):
    small = tmp_path / "small.csv"
    run_gateway("generate", "recipients", "--count", "50", "--schema", "kurume-2020", "--seed", "3", "-o", str(small))
    assert json.loads(send_checked(small).stdout)["state"] == "sent"
    asked = json.loads(send_checked(small, "--second-check").stdout)
    assert asked["state"] == "pending-check"


def test_a_rule_without_approvers_is_not_registered(kurume, tmp_path):
    from tests.safeguards.conftest import checked_approval

    bad = run_gateway("approval", "add", str(checked_approval(tmp_path, "always = true")), check=False)
    assert bad.returncode == 1 and "approvers" in bad.stderr


def test_the_city_wide_setting_holds_sends_with_bank_accounts(kurume, home, tmp_path):
    with open(home / "gateway.toml", "a", encoding="utf-8") as f:
        f.write("\n[second_check]\nbank_accounts = true\n")
    from tests.helpers import send

    sent = json.loads(send(kurume, tmp_path).stdout)  # the Kurume file carries bank accounts
    assert sent["state"] == "pending-check" and sent["passphrase"] is None
    shown = json.loads(run_gateway("second-check", "show", sent["transfer"], *as_("s.staff"), "--json").stdout)
    assert shown["reasons"][0].startswith("city:fields:") and "account_number" in shown["reasons"][0]
    assert shown["approvers"] == ["kurume.kakari"]  # whom the approval names
