"""The contract compliance ledger (issue 21, item 3): duties of the contract, their slots and due
dates, records of them, and the reminders `gateway duty status` gives."""
from __future__ import annotations

import json
from datetime import datetime

from gateway.clock import JST
from gateway.core.duties import Duty, met, slots
from tests.conftest import APPROVALS, run_gateway

START, END = datetime(2020, 5, 15, tzinfo=JST), datetime(2021, 12, 1, tzinfo=JST)


def test_fiscal_years_and_half_years_slice_the_contract_window():
    fy = slots(Duty("i", "on-site-inspection", "fiscal-year", ""), START, END)
    assert [(s.key, s.start.date().isoformat(), s.due.date().isoformat()) for s in fy] == [
        ("FY2020", "2020-05-15", "2021-04-01"), ("FY2021", "2021-04-01", "2021-12-01")]
    # 「研修を半年に一回…行い、甲に研修実施に関する報告書を提出」 (Kurume FY2021 audit)
    half = slots(Duty("t", "training-report", "half-year", ""), START, END)
    assert [s.key for s in half] == ["2020H1", "2020H2", "2021H1", "2021H2"]
    assert half[1].start == datetime(2020, 10, 1, tzinfo=JST) and half[1].due == datetime(2021, 4, 1, tzinfo=JST)
    assert met(half[1], [(datetime(2020, 12, 1, tzinfo=JST), None)])
    assert not met(half[1], [(datetime(2020, 9, 30, tzinfo=JST), None)])  # the half before


def test_a_pledge_is_due_from_each_handler_before_work_starts():
    pledge = slots(Duty("p", "pledge", "per-handler", ""), START, END, ("a.one", "b.two"))
    assert [(s.key, s.due) for s in pledge] == [("handler:a.one", START), ("handler:b.two", START)]
    assert met(pledge[0], [(datetime(2020, 5, 1, tzinfo=JST), "a.one")])
    assert not met(pledge[1], [(datetime(2020, 5, 1, tzinfo=JST), "a.one")])  # another handler's
    assert not met(pledge[1], [(datetime(2020, 6, 1, tzinfo=JST), "b.two")])  # after work started


def test_staff_record_a_duty_and_see_what_is_due(home, monkeypatch):
    monkeypatch.setenv("GATEWAY_FAKE_NOW", "2021-01-10T10:00:00+09:00")
    run_gateway("approval", "add", str(APPROVALS / "shinjuku-2020-teigaku.toml"))
    run_gateway("user", "add", "sj.staff", "--org", "shinjuku", "--role", "staff", "--name", "職員")

    def status():
        return json.loads(run_gateway("duty", "status", "shinjuku-2020-teigaku", "--json").stdout)

    # the contract ran to 2020-11-30: the FY2020 inspection was due by then, and none is recorded
    assert status() == [{"duty": "inspection", "kind": "on-site-inspection", "slot": "FY2020", "handler": None,
                         "due": "2020-11-30T15:00:00.000000Z", "met": False, "overdue": True}]

    def record(login, duty="inspection"):
        return run_gateway("duty", "record", "shinjuku-2020-teigaku", "--duty", duty, "--on", "2020-10-20",
                           "--means", "立入調査記録票", "--as", login, "--paper-ref", "記録票 1", "--json", check=False)

    unknown = record("sj.staff", duty="audit")
    assert unknown.returncode == 1 and "no duty 'audit'" in unknown.stderr
    contractor = record("t.kobayashi")
    assert contractor.returncode == 1 and "no approval" in contractor.stderr
    assert record("sj.staff").returncode == 0
    assert status()[0]["met"] is True and status()[0]["overdue"] is False


def test_a_subcontract_application_states_reason_content_data_and_supervision(home, tmp_path, monkeypatch):
    """Komae 特記仕様書第7条: 「再委託は禁止。やむを得ない場合は業務の着手前に書面で申請し承認を得る」."""
    monkeypatch.setenv("GATEWAY_FAKE_NOW", "2020-05-20T10:00:00+09:00")
    text = (APPROVALS / "shinjuku-2020-teigaku.toml").read_text(encoding="utf-8")
    text = text.replace('id = "shinjuku-2020-teigaku"', 'id = "shinjuku-2020-applied"', 1) + (
        '\n[[duties]]\nid = "subcontract"\nkind = "subcontract-application"\nevery = "once"\n'
        'text = "再委託は業務の着手前に書面で申請し承認を得る"\n')
    (tmp_path / "applied.toml").write_text(text, encoding="utf-8")
    run_gateway("approval", "add", str(tmp_path / "applied.toml"))
    run_gateway("user", "add", "sj.staff", "--org", "shinjuku", "--role", "staff", "--name", "職員")
    base = ["duty", "record", "shinjuku-2020-applied", "--duty", "subcontract", "--on", "2020-05-01",
            "--means", "再委託承認申請書", "--as", "sj.staff", "--paper-ref", "申請書 1", "--json"]
    bare = run_gateway(*base, check=False)
    assert bare.returncode == 1 and "--supervision" in bare.stderr
    run_gateway(*base, "--reason", "専門的な印刷設備", "--content", "申請書の印刷・発送", "--data", "住民番号・氏名・住所",
                "--supervision", "立入調査と月次報告")
    status = json.loads(run_gateway("duty", "status", "shinjuku-2020-applied", "--json").stdout)
    assert {(s["duty"], s["slot"], s["met"]) for s in status} >= {("subcontract", "once", True)}
