"""Kurume FY2021 GIS migration (seed 001): the contractor's own HDD is erased and reported, not
returned, and one deletion request covers the three places the data were in.

「受託者が手配する外付ハードディスクドライブに格納し、受託者の社員に直接手渡しをする方法で行う。移行作業が
完了した後の現行サーバ内、変換サーバ内及び外付ハードディスクドライブ内のデータは受託者に消去させ、受託者から
市に対して報告書を提出させることとしている。」
"""
from __future__ import annotations

import json

import pytest

from gateway.data import simulations_dir
from tests.conftest import run_gateway

PLACES = ["現行サーバ", "変換サーバ", "外付ハードディスクドライブ"]


@pytest.fixture(autouse=True)
def fast_scrypt(monkeypatch):
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    monkeypatch.delenv("GATEWAY_FAKE_NOW", raising=False)


def _run(tmp_path, scenario="kurume-2021-gis-hdd", *faults: str) -> dict:
    out = tmp_path / ("run-" + "-".join(faults or ("clean",)))
    args = ["simulate", str(scenario), "--records", "150", "-o", str(out), "--json"]
    for f in faults:
        args += ["--fault", f]
    result = json.loads(run_gateway(*args).stdout)
    result["report_json"] = json.loads((out / "report.json").read_text())
    result["out"] = out
    return result


def test_a_faithful_run_reports_nothing_although_the_hdd_never_comes_back(tmp_path):
    result = _run(tmp_path)
    assert result["findings"] == [] and result["verified"] is True
    [transfer] = result["report_json"]["approval_summaries"][0]["transfers"]
    [handover] = [c for c in transfer["custody"] if c["item_kind"] == "media"]
    assert handover["event"] == "handover" and handover["return_due"] is None  # the contractor's HDD
    assert sorted(c["covers"] for c in transfer["erasure_certificates"]) == sorted(PLACES)
    assert len(transfer["deletion_requests"]) == 1
    assert all(c["attested"]["strength"] == "signed" for c in transfer["erasure_certificates"])


def test_a_missing_certificate_is_found_exactly(tmp_path):
    assert _run(tmp_path, "kurume-2021-gis-hdd", "deletion-overdue")["findings"] == ["deletion-overdue"]


def test_a_place_left_uncertified_is_deletion_overdue_naming_it(tmp_path):
    text = (simulations_dir() / "kurume-2021-gis-hdd.toml").read_text(encoding="utf-8")
    text = text.replace('action = "delete"\ntransfer = "gis"\n',
                        'action = "delete"\ntransfer = "gis"\nplaces = ["現行サーバ", "変換サーバ"]\n')
    path = tmp_path / "gis-forgotten.toml"
    path.write_text(text.replace('name = "kurume-2021-gis-hdd"', 'name = "gis-forgotten"'), encoding="utf-8")
    result = _run(tmp_path, path)
    assert result["findings"] == ["deletion-overdue"]
    [finding] = [f for f in result["report_json"]["findings"] if f["kind"] == "deletion-overdue"]
    assert "外付ハードディスクドライブ" in finding["detail"] and "変換サーバ" not in finding["detail"]

    # The request stays open for the third place; a certificate naming no listed place, or one
    # already covered, is refused and logged.
    env = {"GATEWAY_HOME": str(result["out"] / "home"), "GATEWAY_FAKE_NOW": "2021-10-16T09:00:00+09:00",
           "SUDO_USER": "gis.staff"}
    [transfer] = result["report_json"]["approval_summaries"][0]["transfers"]
    deletion = transfer["erasure_certificates"][0]["evidence"]
    deletion_id = json.loads((result["out"] / "bundle" / "evidence" / f"{deletion}.json").read_text())["deletion"]

    def certify(where: str):
        return run_gateway(
            "deletion", "certify", deletion_id, "--erased-at", "2021-10-16T08:00:00+09:00",
            "--media-manufacturer", "テスト電機", "--media-model", "HDD-4TB", "--media-serial", where,
            "--sanitisation", "purge", "--technique", "全領域上書き", "--tool", "wipe 1.0",
            "--verification", "読み出しで確認", "--sanitised-by", "中島 春樹,取扱責任者", "--verified-by", "松本 莉子,取扱者",
            "--place", "開発拠点", "--as", "h.nakashima", "--paper-ref", "消去報告書 3", check=False, env=env)

    elsewhere = certify("庁舎外の作業PC")
    assert elsewhere.returncode == 1 and "places of erasure" in elsewhere.stderr
    again = certify("変換サーバ")
    assert again.returncode == 1 and "already filed" in again.stderr
    third = certify("外付ハードディスクドライブ SN-HDD-0001")
    assert third.returncode == 0, third.stderr
    log = json.loads(run_gateway("log", "--action", "deletion.certify", "--json", env=env).stdout)
    assert [e["outcome"] for e in log][-3:] == ["refused", "refused", "ok"]
