"""Shinjuku NHI (seed 004): erasure and the return of media fall due after each 納品, which is itself
a 確認書 entry (date and time, handler, content, quantity).

「納品完了後、データを消去させ、データ消去報告書を提出させる。」「納品完了後、データ媒体、パスワード
通知書を返却させる。」 The approval gives the deadlines as days after a completed delivery; the auditor
derives them again from the approval in the bundle and the delivery record.
"""
from __future__ import annotations

import json

import pytest

from gateway.data import simulations_dir
from tests.conftest import run_gateway

SCENARIO = simulations_dir() / "shinjuku-nhi-cdr.toml"


@pytest.fixture(autouse=True)
def fast_scrypt(monkeypatch):
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    monkeypatch.delenv("GATEWAY_FAKE_NOW", raising=False)


def _variant(tmp_path, *, deliver: bool) -> dict:
    """The CD-R run up to the delivery, then nobody returns the disc or files an erasure report;
    the evidence is exported on 2020-06-28, before the profile's 30 days after the hand-over and
    long before the period ends, but 14 days after the delivery of 2020-06-05 16:10 JST."""
    text = SCENARIO.read_text(encoding="utf-8")
    cut = text.index("[[steps]]\nafter = \"5d\"\naction = \"courier\"\ndo = \"return\"")
    if not deliver:
        cut = text.index('[[steps]]\nafter = "3d"\naction = "deliver"')
    text = text[:cut] + '[[steps]]\nat = "2020-06-28T09:00:00+09:00"\naction = "export"\n'
    name = "nhi-delivered" if deliver else "nhi-undelivered"
    path = tmp_path / f"{name}.toml"
    path.write_text(text.replace('name = "shinjuku-nhi-cdr"', f'name = "{name}"'), encoding="utf-8")
    out = tmp_path / name
    result = json.loads(run_gateway("simulate", str(path), "--records", "120", "-o", str(out), "--json").stdout)
    result["out"] = out
    return result


def test_a_delivery_starts_the_erasure_and_return_deadlines(tmp_path):
    delivered = _variant(tmp_path, deliver=True)
    assert delivered["findings"] == ["deletion-overdue", "media-not-returned"]
    report = json.loads((delivered["out"] / "report.json").read_text())
    transfer = report["approval_summaries"][0]["transfers"][0]
    [delivery] = transfer["deliveries"]
    # the 確認書 of the 納品: date and time, handler, content, quantity
    assert delivery["from"]["person"] == "r.shimizu" and delivery["to"]["person"] == "nhi.staff"
    assert delivery["content"] == "国民健康保険料納入通知書（封入封緘済み）" and delivery["quantity"] == 120
    assert delivery["complete"] is True
    assert delivery["deletion_due"] == delivery["return_due"] == "2020-06-19T07:10:00.000000Z"
    details = {f["kind"]: f["detail"] for f in report["findings"]}
    assert "2020-06-19 16:10" in details["deletion-overdue"]
    assert "2020-06-19 16:10" in details["media-not-returned"]


def test_without_the_delivery_nothing_is_due_yet(tmp_path):
    assert _variant(tmp_path, deliver=False)["findings"] == []


def test_only_staff_record_a_delivery_from_a_designated_handler(tmp_path):
    run = _variant(tmp_path, deliver=False)
    home = run["out"] / "home"
    # The run made each of its staff a named operator under an OS user of the same name.
    env = {"GATEWAY_HOME": str(home), "GATEWAY_FAKE_NOW": "2020-06-28T10:00:00+09:00", "SUDO_USER": "nhi.staff"}
    transfer = json.loads((run["out"] / "report.json").read_text())["approval_summaries"][0]["transfers"][0]["transfer"]

    def record(*args: str):
        return run_gateway("delivery", "record", transfer, "--place", "区役所", "--content", "通知書",
                           "--quantity", "120", "--json", *args, check=False, env=env)

    stranger = record("--from", "nhi.staff", "--to", "nhi.staff")
    assert stranger.returncode == 1 and "designated handler" in stranger.stderr
    partial = record("--from", "c.okada", "--to", "nhi.staff", "--partial")
    assert partial.returncode == 0, partial.stderr
    assert json.loads(partial.stdout)["deletion_due"] is None  # 分納: nothing falls due yet
    done = json.loads(record("--from", "c.okada", "--to", "nhi.staff").stdout)
    assert done["deletion_due"] == "2020-07-12T01:00:00.000000Z"
    log = json.loads(run_gateway("log", "--action", "delivery.", "--json", env=env).stdout)
    assert [e["outcome"] for e in log] == ["refused", "ok", "ok"]
