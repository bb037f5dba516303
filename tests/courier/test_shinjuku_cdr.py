"""Shinjuku NHI forms on CD-R (seed 004), end to end, with the auditor as the judge.

Day 1: the ward writes the encrypted package onto a CD-R image and hands the disc to the printer.
Day 2: the password notice, from another cabinet, into another cabinet. The printer reads the disc
(no mount: pycdlib), decrypts with `gateway package decrypt`, confirms receipt. After delivery the
disc and the notice come back, the printer files its deletion request and erasure certificate.
"""
from __future__ import annotations

import io
import json

import pycdlib

from tests.conftest import run_gateway
from tests.courier.conftest import NHI, evidence, handover, report, serious

MEDIA_CABINET, NOTICE_CABINET = "神田川 媒体保管金庫", "神田川 通知書キャビネット"


def read_package_from_image(iso_path, out) -> dict:
    iso = pycdlib.PyCdlib()
    iso.open(str(iso_path))
    try:
        label = io.BytesIO()
        iso.get_file_from_iso_fp(label, joliet_path="/LABEL.JSON")
        with out.open("wb") as f:
            iso.get_file_from_iso_fp(f, iso_path="/PACKAGE.AGE;1")
        text = io.BytesIO()
        iso.get_file_from_iso_fp(text, iso_path="/LABEL.TXT;1")
    finally:
        iso.close()
    return {**json.loads(label.getvalue()), "text": text.getvalue().decode("utf-8")}


def test_cdr_flow_day1_media_day2_notice_return_erasure_audit(cli, shinjuku, tmp_path):
    t = shinjuku.transfer
    cli.at("2020-06-01T09:10:00")
    written = cli.json("courier", "write", t, "--media", "cdr", "--serial", "NHI-CDR-0601", "-o",
                       str(tmp_path / "media"), "--cabinet", "医療保険年金課 媒体キャビネット", "--as", "w.kato", "--paper-ref", "書面 1")
    assert written["pieces"] == 1 and written["paths"][0].endswith("NHI-CDR-0601.iso")
    cli.at("2020-06-01T14:00:00")
    out = handover(cli, "NHI-CDR-0601", "r.shimizu", "w.kato", MEDIA_CABINET, "--receipt-no", "AZ-0601-1").stdout
    assert "2020-07-01 14:00" in out  # courier-cdr: media come back within 30 days

    cli.at("2020-06-02T08:00:00")
    handover(cli, shinjuku.notice, "r.shimizu", "w.ito", NOTICE_CABINET, "--from", "w.kato",
             "--receipt-no", "AZ-0602-1")
    # The printer reads the disc without mounting it and decrypts with the notice's passphrase.
    package = tmp_path / "from-disc.age"
    label = read_package_from_image(written["paths"][0], package)
    assert label["serial"] == "NHI-CDR-0601" and label["piece"] == "1/1" and label["record_count"] == shinjuku.records
    assert label["approval_case_number"] == "諮問・報告事項 資料45"
    assert "NHI-CDR-0601" in label["text"] and "1/1" in label["text"]
    plain_text = shinjuku.source.read_bytes().decode("cp932")
    assert not any(name in label["text"] for name in plain_text.splitlines()[1].split(",")[1:3])  # no personal data
    (tmp_path / "pass").write_text(shinjuku.passphrase + "\n")
    decrypted = run_gateway("package", "decrypt", str(package), "-o", str(tmp_path / "plain.csv"),
                            "--passphrase-file", str(tmp_path / "pass")).stdout
    assert shinjuku.sha256 in decrypted and f"records: {shinjuku.records}" in decrypted
    cli.at("2020-06-02T08:30:00")
    run_gateway("receipt", t, "--records", str(shinjuku.records), "--sha256", shinjuku.sha256, "--as", "r.shimizu", "--paper-ref", "書面 1",
                env={"GATEWAY_FAKE_NOW": "2020-06-02T08:30:00+09:00"})

    # The gateway's own copy goes when due (7 days from sending).
    run_gateway("retention", "sweep", "--now", "2020-06-08T09:00:00+09:00")

    cli.at("2020-06-10T10:00:00")
    handover(cli, "NHI-CDR-0601", "w.kato", "r.shimizu", "医療保険年金課 媒体キャビネット", command="return")
    handover(cli, shinjuku.notice, "w.ito", "r.shimizu", "医療保険年金課 通知書キャビネット", command="return")
    chain = cli.json("courier", "show", "NHI-CDR-0601", "--as", "w.kato", "--paper-ref", "書面 1")
    assert [e["event"] for e in chain["events"]] == ["handover", "return"]
    assert chain["holder"] == {"person": "w.kato", "org": "shinjuku"} and not chain["lost"]
    assert cli.json("courier", "list", "--outstanding", "--as", "w.kato", "--paper-ref", "書面 1") == []

    deletion = cli("deletion", "request", t, "--items", "国保帳票印字データ一式", "--media", "印字サーバー",
                   "--quantity", "1", "--method", "上書き消去", "--planned-date", "2020-06-11",
                   "--as", "r.shimizu", "--paper-ref", "書面 1").stdout.split()[-1]
    cli("deletion", "decide", deletion, "--approve", "--witness", "加藤 和子", "--as", "w.kato", "--paper-ref", "書面 1")
    cli.at("2020-06-11T17:00:00")
    cli("deletion", "certify", deletion, "--erased-at", "2020-06-11T15:00:00+09:00", "--media-manufacturer", "テスト電機",
        "--media-model", "SRV-1", "--media-serial", "印字サーバー室", "--sanitisation", "clear", "--technique",
        "上書き 1 回", "--tool", "shred 9.1", "--verification", "読み出し確認", "--sanitised-by", "清水 涼介,取扱責任者",
        "--verified-by", "岡田 千尋,取扱者", "--place", "神田川データプリント 本社工場", "--as", "r.shimizu", "--paper-ref", "書面 1")

    cli.at("2020-07-15T10:00:00")  # after every return deadline
    rep = report(cli, tmp_path, NHI)
    assert rep["verified"] is True and serious(rep) == []
    custody = evidence(rep, "custody")
    assert [(d["item_kind"], d["event"]) for d in custody] == [
        ("media", "handover"), ("notice", "handover"), ("media", "return"), ("notice", "return")]
    media_doc = custody[0]
    assert media_doc["from"]["person"] == "w.kato" and media_doc["to"] == {
        "person": "r.shimizu", "org": "kandagawa-print", "name": "清水 涼介"}
    assert media_doc["cabinet"] == MEDIA_CABINET and custody[1]["cabinet"] == NOTICE_CABINET
    assert media_doc["receipt"]["number"] == "AZ-0601-1" and media_doc["quantity"] == 1
    assert media_doc["return_due"] == "2020-07-01T05:00:00.000000Z" and media_doc["content"]
    assert custody[1]["from"]["person"] == "w.kato" and custody[1]["recorded_by"]["user"] == "w.ito"
    summary = rep["approval_summaries"][0]["transfers"][0]
    assert len(summary["custody"]) == 4 and summary["receipts"][0]["matches"] is True
    assert summary["erasure_certificates"] and summary["gateway_erasures"]
