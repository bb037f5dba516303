"""Shinjuku 2020 (seed 003): the subcontract runs to 8/31 while the contract runs to 11/30.

「再委託の開始時期及び期限 令和2年5月1日から令和2年8月31日まで」; 再委託用特記事項 13「丙は、個人情報を
消去した場合には…甲及び乙に対して消去をしたことの証明書を提出するものとする。」
"""
from __future__ import annotations

import json
from datetime import datetime

import pytest

from gateway.clock import JST
from gateway.core.approvals import parse_approval_text
from gateway.core.deadlines import deadlines
from gateway.core.profiles import load_profile
from gateway.core.tomlfile import DefinitionError
from gateway.data import profiles_dir
from tests.conftest import APPROVALS, run_gateway

SHINJUKU = APPROVALS / "shinjuku-2020-teigaku.toml"


@pytest.fixture(autouse=True)
def fast_scrypt(monkeypatch):
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    monkeypatch.delenv("GATEWAY_FAKE_NOW", raising=False)


def test_the_subcontractors_copy_is_due_on_its_own_term():
    approval = parse_approval_text(SHINJUKU.read_text(encoding="utf-8"), SHINJUKU)
    profile = load_profile(profiles_dir() / "subcontract-courier.toml")
    sent = datetime(2020, 5, 22, 12, 30, tzinfo=JST)
    relayed = deadlines(approval, profile, sent, recipient="ishikari-print")
    direct = deadlines(approval, profile, sent, recipient="musashino-forms")
    assert relayed.contractor_deletion_due == datetime(2020, 10, 1, tzinfo=JST)  # 8/31 + 30 days
    assert direct.contractor_deletion_due == datetime(2020, 12, 31, tzinfo=JST)  # the contractor's, unchanged


@pytest.mark.parametrize(("edit", "says"), [
    (("period_start = 2020-05-01\n", ""), "go together"),
    (("period_end = 2020-08-31\n", "period_end = 2020-04-30\n"), "ends before it starts"),
    (("period_start = 2020-05-01\nperiod_end = 2020-08-31\n", ""), "deletion_days needs"),
])
def test_a_subcontract_term_that_contradicts_itself_is_refused(edit, says):
    text = SHINJUKU.read_text(encoding="utf-8")
    assert edit[0] in text
    with pytest.raises(DefinitionError) as err:
        parse_approval_text(text.replace(edit[0], edit[1]), "shinjuku.toml")
    assert says in str(err.value)


def test_the_subcontractors_certificate_goes_to_the_city_and_the_contractor(tmp_path):
    out = tmp_path / "run"
    result = json.loads(run_gateway("simulate", "shinjuku-2020", "--records", "150", "-o", str(out), "--json").stdout)
    assert result["findings"] == []
    report = json.loads((out / "report.json").read_text())
    transfers = {t["recipient"]["org"]: t for t in report["approval_summaries"][0]["transfers"]}
    relay = transfers["ishikari-print"]
    assert relay["contractor_deletion_due"] == "2020-09-30T15:00:00.000000Z"
    [certificate] = relay["erasure_certificates"]
    assert certificate["addressed_to"] == [{"org": "shinjuku", "role": "甲"}, {"org": "musashino-forms", "role": "乙"}]
    [ack] = relay["erasure_acknowledgements"]
    assert ack["accepted"] is True and ack["acknowledged_by"]["org"] == "musashino-forms"
    assert transfers["musashino-forms"]["erasure_acknowledgements"] == []

    # Only the contractor that relayed the data acknowledges, once.
    env = {"GATEWAY_HOME": str(out / "home"), "GATEWAY_FAKE_NOW": "2021-01-16T09:00:00+09:00",
           "SUDO_USER": "shinjuku.staff"}
    deletion = ack["deletion"]
    again = run_gateway("deletion", "acknowledge", deletion, "--as", "t.kobayashi", "--paper-ref", "受領書 2",
                        check=False, env=env)
    assert again.returncode == 1 and "already acknowledged" in again.stderr
    other = run_gateway("deletion", "acknowledge", deletion, "--as", "m.takahashi", "--paper-ref", "受領書 3",
                        check=False, env=env)
    assert other.returncode == 1 and "no deletion request" in other.stderr
