"""Recall and emergency erasure, incidents and outside hand-overs from the command line, with the
auditor as the judge (issue 20, items 3 and 4)."""
from __future__ import annotations

import json

from tests.conftest import city_policy, move_clock, run_audit, run_gateway
from tests.helpers import send
from tests.safeguards.conftest import as_

APPROVAL = "kurume-2020-teigaku"


def report(home, tmp_path, name="bundle") -> dict:
    bundle = tmp_path / name
    run_gateway("export", "evidence", "-o", str(bundle))
    policy = city_policy(home)
    assert run_audit("verify", str(bundle), trust=policy).returncode == 0
    return json.loads(run_audit("report", str(bundle), "--json", trust=policy).stdout)


def found(rep: dict) -> set[str]:
    return {f["kind"] for f in rep["findings"] if not f["prevented"]}


def refusal(proc) -> dict:
    assert proc.returncode == 1, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def recall(t: str, login: str = "s.staff", check: bool = True):
    return run_gateway("transfer", "recall", t, "--reason", "宛先誤り（別の業者宛てのファイル）", *as_(login), "--json",
                       check=check)


def test_a_recall_before_any_download_erases_at_once_and_hides_it(kurume, home, tmp_path):
    t = json.loads(send(kurume, tmp_path).stdout)["transfer"]
    done = json.loads(recall(t).stdout)
    assert done["downloaded"] is False and done["incident"] is None
    fetch = run_gateway("fetch", t, "-o", str(tmp_path / "p.age"), *as_("k.tanaka"), "--json", check=False)
    assert refusal(fetch)["category"] == "gone"
    assert refusal(recall(t, check=False))["category"] == "conflict"
    assert refusal(recall(t, "k.tanaka", check=False))["category"] == "forbidden"
    rep = report(home, tmp_path)
    assert found(rep) == set()  # nothing is owed for what never left
    summary = next(a for a in rep["approval_summaries"] if a["id"] == APPROVAL)
    assert [(r["transfer"], r["downloaded"]) for r in summary["recalls"]] == [(t, False)]


def test_a_recall_after_a_download_asks_for_urgent_erasure_and_opens_an_incident(kurume, home, tmp_path):
    sent = json.loads(send(kurume, tmp_path).stdout)
    t = sent["transfer"]
    run_gateway("fetch", t, "-o", str(tmp_path / "p.age"), *as_("k.tanaka"))
    run_gateway("receipt", t, "--records", "300", "--sha256", sent["sha256"], *as_("k.tanaka"))
    done = json.loads(recall(t).stdout)
    assert done["downloaded"] is True and done["incident"] and done["contractor_deletion_due"]
    opened = json.loads(run_gateway("incident", "show", done["incident"], *as_("k.tanaka"), "--json").stdout)
    assert opened["contractor"] == "chikugo-print" and opened["records"] == 300
    move_clock("2020-06-03T10:00:00+09:00")  # past the 24 hours; the contractor did nothing
    rep = report(home, tmp_path)
    assert found(rep) == {"deletion-overdue", "incident-unreported"}
    summary = next(a for a in rep["approval_summaries"] if a["id"] == APPROVAL)
    assert summary["recalls"][0]["incident"] == done["incident"]


def test_the_contractor_reports_in_time_and_the_instruction_is_carried_out(kurume, home, tmp_path):
    t = json.loads(send(kurume, tmp_path).stdout)["transfer"]
    filed = json.loads(run_gateway(
        "incident", "report", "--transfer", t, "--content", "作業端末からの誤送信", "--records", "12", "--place",
        "受託者 作業室", "--circumstances", "メール誤送信", *as_("k.tanaka"), "--json").stdout)["incident"]
    run_gateway("incident", "instruct", filed, "--instruction", "送信先に削除を依頼し結果を報告すること",
                "--due", "2020-06-05T17:00:00+09:00", *as_("s.staff"))
    early = run_gateway("incident", "close", filed, "--summary", "完了", *as_("s.staff"), "--json", check=False)
    assert refusal(early)["category"] == "conflict"
    run_gateway("incident", "done", filed, "--note", "送信先の削除を確認した", *as_("k.tanaka"))
    run_gateway("incident", "publication", filed, "--withhold", "--reason", "外部流出なし", *as_("s.staff"))
    run_gateway("incident", "close", filed, "--summary", "再発防止策を確認", *as_("s.staff"))
    shown = json.loads(run_gateway("incident", "show", filed, *as_("s.staff"), "--json").stdout)
    assert shown["publication"] == "withhold" and shown["closed_at"]
    bad = run_gateway("incident", "report", "--transfer", t, "--content", " ", "--records", "1", "--place", "x",
                      "--circumstances", "y", *as_("k.tanaka"), "--json", check=False)
    assert refusal(bad)["category"] == "invalid"
    move_clock("2020-06-10T10:00:00+09:00")
    rep = report(home, tmp_path)
    assert "instruction-overdue" not in found(rep) and "incident-unreported" not in found(rep)
    summary = next(a for a in rep["approval_summaries"] if a["id"] == APPROVAL)
    events = [e["event"] for e in summary["incidents"][0]["events"]]
    assert events == ["reported", "instructed", "instruction-done", "publication", "closed"]


def test_an_instruction_past_its_deadline_is_found(kurume, home, tmp_path):
    filed = json.loads(run_gateway(
        "incident", "report", "--approval", APPROVAL, "--content", "申請書の誤封入", "--records", "3", "--place",
        "受託者 封入ライン", "--circumstances", "封入機の設定誤り", *as_("s.staff"), "--json").stdout)["incident"]
    run_gateway("incident", "instruct", filed, "--instruction", "全数点検", "--due", "2020-06-02T17:00:00+09:00",
                *as_("s.staff"))
    move_clock("2020-06-04T10:00:00+09:00")
    assert found(report(home, tmp_path)) == {"instruction-overdue"}


def test_an_outside_hand_over_is_recorded_and_linked_to_its_later_approval(kurume, home, tmp_path):
    run_gateway("user", "add", "k.officer", "--org", "kurume", "--role", "security-officer", "--name", "情報 担当")
    x = json.loads(run_gateway(
        "incident", "external", "--sender-org", "kurume", "--recipient", "line-works", "--description",
        "LINE WORKS で住民データを承認なく共有していた", "--records", "40", "--handed-over-at", "2020-05-20T10:00:00+09:00",
        *as_("k.officer"), "--json").stdout)["transfer"]
    staff = run_gateway("incident", "regularise", x, "--approval", APPROVAL, "--note", "事後承認", *as_("s.staff"),
                        "--json", check=False)
    assert refusal(staff)["category"] == "forbidden"
    linked = json.loads(run_gateway("incident", "regularise", x, "--approval", APPROVAL, "--note",
                                    "令和3年度第2回審議会で事後承認", *as_("k.officer"), "--json").stdout)
    assert linked["approval"] == APPROVAL
    # It was unapproved when it happened: the later approval does not change that.
    assert found(report(home, tmp_path)) == {"unapproved-transfer"}
