"""Where the contractor's erasure deadline counts from: the records' fiscal year (Komae, seed 002).

「課税賦課事務情報は，賦課又は廃車された日の属する年度の4月1日を基点とし…当該基点から7年後の4月1日
に…抹消処理を行う。(例) 平成27年4月1日の課税賦課事務情報は，平成33年4月1日付けで抹消される。」
"""
from __future__ import annotations

import json
from datetime import datetime

import pytest

from gateway.clock import JST
from gateway.core.approvals import parse_approval_text
from gateway.core.deadlines import fiscal_year, record_year_erasure
from gateway.core.tomlfile import DefinitionError
from tests.conftest import APPROVALS, city_policy, run_audit, run_gateway

KOMAE = APPROVALS / "komae-2015-kei-tax.toml"


def test_the_seeds_worked_example():
    # 平成27年度 → 平成33年4月1日
    assert record_year_erasure(7, 4, 2015) == datetime(2021, 4, 1, tzinfo=JST)


def test_fiscal_years_turn_on_the_first_of_april_in_japan():
    assert fiscal_year(datetime(2016, 3, 31, 23, 59, tzinfo=JST)) == 2015
    assert fiscal_year(datetime(2016, 4, 1, 0, 0, tzinfo=JST)) == 2016
    # 2016-03-31T15:00Z is already 1 April in Japan
    assert fiscal_year(datetime.fromisoformat("2016-03-31T15:00:00+00:00")) == 2016


def test_a_record_year_base_needs_its_years_and_month():
    text = KOMAE.read_text(encoding="utf-8").replace("contractor_keep_years = 7\n", "").replace(
        "rollover_month = 4\n", "")
    with pytest.raises(DefinitionError) as err:
        parse_approval_text(text, "komae.toml")
    assert "record-fiscal-year" in str(err.value)


@pytest.fixture
def komae(home, tmp_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_FAKE_NOW", "2020-06-01T10:00:00+09:00")
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    run_gateway("approval", "add", str(KOMAE))
    run_gateway("user", "add", "komae.staff", "--org", "komae", "--role", "staff", "--name", "課税課 職員")
    source = tmp_path / "kei.csv"
    source.write_text("氏名,住所\n" + "".join(f"試験 太郎{n},東京都狛江市和泉本町1-{n}\n" for n in range(1, 21)),
                      encoding="utf-8")
    return source


def _send(source, *extra, check=True):
    return run_gateway("send", str(source), "--approval", "komae-2015-kei-tax", "--recipient", "tamagawa-asp",
                       "--profile", "lgwan-asp", "--password-delivery", "registered-mail", "--as", "komae.staff",
                       "--paper-ref", "送付伺 1", "--json", *extra, check=check)


def test_each_transfer_is_due_at_its_own_records_roll_over(komae, home, tmp_path):
    older = json.loads(_send(komae, "--record-fiscal-year", "2015").stdout)
    newer = json.loads(_send(komae, "--record-fiscal-year", "2016").stdout)
    bundle = tmp_path / "bundle"
    run_gateway("export", "evidence", "-o", str(bundle))
    docs = [json.loads(p.read_text()) for p in (bundle / "evidence").glob("transfer-*.json")]
    due = {d["transfer"]: (d["contractor_deletion_due"], d["deletion_base"]) for d in docs}
    assert due[older["transfer"]] == ("2021-03-31T15:00:00.000000Z",  # 平成27年度 → 平成33年4月1日
                                      {"base": "record-fiscal-year", "record_fiscal_year": 2015})
    assert due[newer["transfer"]] == ("2022-03-31T15:00:00.000000Z",
                                      {"base": "record-fiscal-year", "record_fiscal_year": 2016})
    report = json.loads(run_audit("report", str(bundle), "--json", trust=city_policy(home)).stdout)
    summaries = {t["transfer"]: t for a in report["approval_summaries"] for t in a["transfers"]}
    assert summaries[newer["transfer"]]["deletion_base"]["record_fiscal_year"] == 2016


@pytest.mark.parametrize(("extra", "says"), [
    ((), "--record-fiscal-year"),                            # the year is not named
    (("--record-fiscal-year", "2021"), "after the current"),  # FY2021 has not begun on 2020-06-01
    (("--record-fiscal-year", "2014"), "due for erasure"),    # FY2014 went on 2020-04-01
])
def test_a_send_without_a_usable_record_year_is_refused_and_logged(komae, extra, says):
    proc = _send(komae, *extra, check=False)
    assert proc.returncode == 1 and says in proc.stderr
    assert proc.stderr.index("年度") < proc.stderr.index(says)  # Japanese first
    refused = json.loads(run_gateway("log", "--outcome", "refused", "--approval", "komae-2015-kei-tax",
                                     "--json").stdout)
    assert [e["action"] for e in refused] == ["transfer.send"]
    listed = json.loads(run_gateway("log", "--json").stdout)
    assert not [e for e in listed if e["action"] == "transfer.send" and e["outcome"] == "ok"]


def test_a_record_year_is_refused_where_the_approval_does_not_count_from_it(kurume, home, tmp_path):
    proc = run_gateway("send", str(kurume), "--approval", "kurume-2020-teigaku", "--recipient", "chikugo-print",
                       "--profile", "vpn-sftp", "--password-delivery", "registered-mail", "--as", "s.staff",
                       "--paper-ref", "書面 1", "--record-fiscal-year", "2020", check=False)
    assert proc.returncode == 1 and "omit --record-fiscal-year" in proc.stderr
