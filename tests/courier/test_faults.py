"""Each courier fault comes back from `audit report` as exactly its own finding."""
from __future__ import annotations

from tests.courier.conftest import NHI, evidence, handover, report, serious

MEDIA_CABINET, NOTICE_CABINET = "媒体金庫", "通知書キャビネット"


def _media_out(cli, shinjuku, tmp_path, serial: str = "CD-1") -> None:
    cli.at("2020-06-01T09:10:00")
    cli("courier", "write", shinjuku.transfer, "--media", "cdr", "--serial", serial, "-o", str(tmp_path / "m"),
        "--as", "w.kato", "--paper-ref", "書面 1")
    cli.at("2020-06-01T14:00:00")
    handover(cli, serial, "r.shimizu", "w.kato", MEDIA_CABINET)


def _receipt(cli, shinjuku) -> None:
    cli("receipt", shinjuku.transfer, "--records", str(shinjuku.records), "--sha256", shinjuku.sha256,
        "--as", "r.shimizu", "--paper-ref", "書面 1")


def test_notice_on_the_day_of_the_media_is_refused(cli, shinjuku, tmp_path):
    _media_out(cli, shinjuku, tmp_path)
    cli.at("2020-06-01T23:59:00")  # still the same JST calendar day
    proc = handover(cli, shinjuku.notice, "r.shimizu", "w.kato", NOTICE_CABINET, check=False)
    assert proc.returncode == 1 and "[password-same-day]" in proc.stderr and "別の日" in proc.stderr
    assert "different days" in proc.stderr
    # Nothing but the refusal was written: the notice is still with the ward, and not even registered.
    assert "登録されていません" in cli("courier", "show", shinjuku.notice, "--as", "w.kato", "--paper-ref", "書面 1", check=False).stderr
    cli.at("2020-06-01T23:59:30")
    rep = report(cli, tmp_path, NHI)
    assert serious(rep) == [("password-same-day", True)]
    assert len(evidence(rep, "custody")) == 1


def test_notice_in_the_same_courier_run_is_refused_even_on_another_day(cli, shinjuku, tmp_path):
    cli.at("2020-06-01T09:10:00")
    cli("courier", "write", shinjuku.transfer, "--media", "cdr", "--serial", "CD-2", "-o", str(tmp_path / "m"),
        "--as", "w.kato", "--paper-ref", "書面 1")
    cli.at("2020-06-01T23:50:00")
    handover(cli, "CD-2", "r.shimizu", "w.kato", MEDIA_CABINET, "--run", "BIN-7")
    cli.at("2020-06-02T00:10:00")
    proc = handover(cli, shinjuku.notice, "r.shimizu", "w.kato", NOTICE_CABINET, "--run", "bin-7", check=False)
    assert proc.returncode == 1 and "[password-same-day]" in proc.stderr and "同じ便" in proc.stderr


def test_hand_over_by_someone_who_does_not_hold_it_is_refused(cli, shinjuku, tmp_path):
    _media_out(cli, shinjuku, tmp_path)
    cli.at("2020-06-02T08:30:00")
    _receipt(cli, shinjuku)
    cli.at("2020-06-02T10:00:00")
    # The ward no longer holds the disc; recording a hand-over from it would break the chain.
    proc = handover(cli, "CD-1", "c.okada", "w.ito", MEDIA_CABINET, "--from", "w.kato", check=False)
    assert proc.returncode == 1 and "[custody-gap]" in proc.stderr and "r.shimizu" in proc.stderr
    rep = report(cli, tmp_path, NHI)
    assert serious(rep) == [("custody-gap", True)]
    assert len(evidence(rep, "custody")) == 1


def test_bad_input_is_refused_with_a_clear_message_and_only_the_refusal_is_logged(cli, shinjuku, tmp_path):
    _media_out(cli, shinjuku, tmp_path)
    cli.at("2020-06-02T10:00:00")
    cases = {
        "no-such": (["NO-SUCH", "c.okada", "r.shimizu", MEDIA_CABINET], "登録されていません"),
        "quantity": (["CD-1", "c.okada", "r.shimizu", MEDIA_CABINET, "--quantity", "2"], "数量"),
        "earlier": (["CD-1", "c.okada", "r.shimizu", MEDIA_CABINET, "--at", "2020-06-01T13:00:00+09:00"], "前回の記録"),
        "future": (["CD-1", "c.okada", "r.shimizu", MEDIA_CABINET, "--at", "2020-06-03T10:00:00+09:00"], "未来"),
    }
    for args, words in cases.values():
        item, to, by, cabinet, *extra = args
        quantity = int(extra[1]) if extra[:1] == ["--quantity"] else 1
        extra = [] if extra[:1] == ["--quantity"] else extra
        proc = handover(cli, item, to, by, cabinet, *extra, quantity=quantity, check=False)
        assert proc.returncode == 1 and words in proc.stderr, proc.stderr
        ja, en = proc.stderr.strip().split("\n", 1)
        assert ja and en.isascii()
    refused = [e for e in cli.json("log", "--outcome", "refused") if e["action"] == "courier.handover"]
    # Input errors carry no finding kind; an out-of-order time is what the auditor calls a custody gap.
    assert [e["kinds"] for e in refused] == [[], [], ["custody-gap"], []]
    chain = cli.json("courier", "show", "CD-1", "--as", "w.kato", "--paper-ref", "書面 1")
    assert len(chain["events"]) == 1 and chain["holder"]["person"] == "r.shimizu"


def test_media_not_returned_by_the_deadline(cli, shinjuku, tmp_path):
    _media_out(cli, shinjuku, tmp_path)
    cli.at("2020-06-02T08:00:00")
    handover(cli, shinjuku.notice, "r.shimizu", "w.kato", NOTICE_CABINET)
    _receipt(cli, shinjuku)
    # The sweep runs on time (before the clock moves on: the log's times never go back).
    cli("retention", "sweep", "--now", "2020-06-08T09:00:00+09:00")
    cli.at("2020-06-20T10:00:00")
    handover(cli, shinjuku.notice, "w.kato", "r.shimizu", "区 通知書キャビネット", command="return")
    outstanding = cli.json("courier", "list", "--outstanding", "--as", "w.kato", "--paper-ref", "書面 1")
    assert [(o["item"], o["overdue"]) for o in outstanding] == [("CD-1", False)]
    cli.at("2020-07-01T14:00:01")  # one second past the 30 days of courier-cdr
    assert cli.json("courier", "list", "--outstanding", "--as", "w.kato", "--paper-ref", "書面 1")[0]["overdue"] is True
    rep = report(cli, tmp_path, NHI)
    assert serious(rep) == [("media-not-returned", False)]
    finding = next(f for f in rep["findings"] if f["kind"] == "media-not-returned")
    assert finding["severity"] == "warning" and finding["transfer"] == shinjuku.transfer


def test_a_late_return_is_recorded_and_still_reported(cli, shinjuku, tmp_path):
    _media_out(cli, shinjuku, tmp_path)
    cli.at("2020-06-02T08:30:00")
    _receipt(cli, shinjuku)
    cli("retention", "sweep", "--now", "2020-06-08T09:00:00+09:00")
    cli.at("2020-07-02T10:00:00")
    handover(cli, "CD-1", "w.kato", "r.shimizu", "区 媒体キャビネット", command="return")
    assert serious(report(cli, tmp_path, NHI)) == [("media-not-returned", False)]


def test_lost_media_is_an_incident_report_and_a_custody_gap(cli, shinjuku, tmp_path):
    _media_out(cli, shinjuku, tmp_path)
    cli.at("2020-06-02T08:30:00")
    _receipt(cli, shinjuku)
    cli.at("2020-06-03T11:00:00")
    lost = cli.json("courier", "lost", "CD-1", "--place", "印字工場への搬送車両内", "--circumstances",
                    "鍵付きケースごと所在不明", "--at", "2020-06-03T09:00:00+09:00", "--as", "r.shimizu", "--paper-ref", "書面 1")
    assessment = lost["assessment"]
    assert assessment["media_encrypted"] is True and assessment["counterpart_with_lost_item"] is False
    assert assessment["counterparts"][0]["holder"] == {"person": "w.kato", "org": "shinjuku"}  # the notice stayed
    # After a loss nothing more can be recorded for the item.
    assert handover(cli, "CD-1", "w.kato", "r.shimizu", "x", command="return", check=False).returncode == 1
    cli("retention", "sweep", "--now", "2020-06-08T09:00:00+09:00")
    cli.at("2020-07-15T10:00:00")  # past the return deadline: the loss is one finding, not two
    rep = report(cli, tmp_path, NHI)
    assert serious(rep) == [("custody-gap", False)]
    doc = evidence(rep, "custody")[-1]
    assert doc["event"] == "lost" and doc["from"]["person"] == "r.shimizu" and doc["to"] is None
    incident = doc["incident"]
    assert incident["record_count"] == shinjuku.records and incident["place"] == "印字工場への搬送車両内"
    assert incident["circumstances"] == "鍵付きケースごと所在不明" and incident["content"]


def test_notice_and_media_in_one_cabinet_is_refused(cli, shinjuku, tmp_path):
    _media_out(cli, shinjuku, tmp_path)
    cli.at("2020-06-02T08:00:00")
    proc = handover(cli, shinjuku.notice, "r.shimizu", "w.kato", " 媒体金庫", check=False)
    assert proc.returncode == 1 and "別の鍵付キャビネット" in proc.stderr
    handover(cli, shinjuku.notice, "r.shimizu", "w.kato", NOTICE_CABINET)


def test_media_only_by_the_profiles_means_and_to_the_recipient(cli, shinjuku, tmp_path):
    _media_out(cli, shinjuku, tmp_path, serial="CD-9")
    cli.at("2020-06-02T08:00:00")
    proc = handover(cli, shinjuku.notice, "r.shimizu", "w.kato", NOTICE_CABINET, "--means", "security-courier",
                    check=False)
    assert proc.returncode == 1 and "[unapproved-channel]" in proc.stderr
    proc = handover(cli, "CD-9", "w.ito", "r.shimizu", "区", check=False)  # a hand-back is a return
    assert proc.returncode == 1 and "courier return" in proc.stderr
