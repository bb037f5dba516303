"""Pruning the log of a courier installation (issue 9, item 1): media that never came back hold the
case's records; once returned and past the window, the custody records go with their entries."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from gateway.home import Home
from gateway.service import Gateway
from gateway.store.models_courier import CourierEvent
from tests.conftest import city_policy, run_audit
from tests.courier.conftest import handover

MEDIA_CABINET = "神田川 媒体保管金庫"
LATER = "2040-01-01T00:00:00+00:00"  # past the window of every 2020 record and of `gateway init`


def test_media_not_returned_holds_the_case_and_custody_records_go_with_their_entries(cli, shinjuku, home, tmp_path):
    t = shinjuku.transfer
    cli.at("2020-06-01T09:10:00")
    cli("courier", "write", t, "--media", "cdr", "--serial", "NHI-CDR-0601", "-o", str(tmp_path / "media"),
        "--cabinet", "医療保険年金課 媒体キャビネット", "--as", "w.kato", "--paper-ref", "書面 1")
    cli.at("2020-06-01T14:00:00")
    handover(cli, "NHI-CDR-0601", "r.shimizu", "w.kato", MEDIA_CABINET)
    cli("retention", "sweep", "--now", "2020-06-08T09:00:00+09:00")
    cli.at("2020-06-10T10:00:00")
    deletion = cli("deletion", "request", t, "--items", "国保帳票印字データ一式", "--media", "印字サーバー",
                   "--quantity", "1", "--method", "上書き消去", "--planned-date", "2020-06-11",
                   "--as", "r.shimizu", "--paper-ref", "書面 1").stdout.split()[-1]
    cli("deletion", "decide", deletion, "--approve", "--as", "w.kato", "--paper-ref", "書面 1")
    cli.at("2020-06-11T17:00:00")
    cli("deletion", "certify", deletion, "--erased-at", "2020-06-11T15:00:00+09:00", "--media-manufacturer", "テスト電機",
        "--media-model", "SRV-1", "--media-serial", "印字サーバー室", "--sanitisation", "clear", "--technique",
        "上書き 1 回", "--tool", "shred 9.1", "--verification", "読み出し確認", "--sanitised-by", "清水 涼介,取扱責任者",
        "--verified-by", "岡田 千尋,取扱者", "--place", "神田川データプリント 本社工場", "--as", "r.shimizu", "--paper-ref", "書面 1")

    held = cli.json("retention", "prune-log", "--now", LATER)
    assert held["pruned"] is False  # the approval's first entry follows `gateway init`: nothing before it ends
    assert "NHI-CDR-0601" in held["kept_from"]["reason"] and "has not come back" in held["kept_from"]["reason"]

    cli.at("2020-06-20T10:00:00")
    handover(cli, "NHI-CDR-0601", "w.kato", "r.shimizu", "医療保険年金課 媒体キャビネット", command="return")
    done = cli.json("retention", "prune-log", "--now", LATER)
    assert done["pruned"] is True and done["range"]["first"] == 1
    gw = Gateway.open(Home.resolve(str(home)))
    with gw.unit() as s:
        assert s.scalar(select(func.count()).select_from(CourierEvent)) == 0
    gw.engine.dispose()
    cli.at("2040-01-01T09:00:00")
    bundle = tmp_path / "bundle"
    cli("export", "evidence", "-o", str(bundle))
    assert run_audit("verify", str(bundle), trust=city_policy(home)).returncode == 0
    (statement,) = [json.loads(x) for x in (bundle / "log" / "prunings.jsonl").read_text().splitlines()]
    assert statement["removed"]["other_records"] == {"courier_events": 2}
    assert statement["removed"]["evidence_by_type"]["custody"] == 2
    # The desk still answers for the item, with no history left to show.
    chain = cli.json("courier", "show", "NHI-CDR-0601", "--as", "w.kato", "--paper-ref", "書面 1")
    assert chain["events"] == []
