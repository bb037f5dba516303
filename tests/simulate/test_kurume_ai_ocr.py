"""Kurume FY2021 AI-OCR (seed 001): scanned forms travel as a PDF (an opaque payload: type, size and
page count are checked instead of columns), and the 附帯意見 「AI-OCRサーバに提供した情報を可能な限り
即時削除すること」 erases the gateway's copy in the act that records the provider's receipt."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from gateway.simulate.files import scanned_pdf
from tests.conftest import APPROVALS, run_gateway

OCR = APPROVALS / "kurume-2021-ai-ocr.toml"


@pytest.fixture(autouse=True)
def fast_scrypt(monkeypatch):
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")


def test_the_scans_go_as_a_pdf_and_are_erased_on_receipt(tmp_path, monkeypatch):
    monkeypatch.delenv("GATEWAY_FAKE_NOW", raising=False)
    out = tmp_path / "run"
    result = json.loads(run_gateway("simulate", "kurume-2021-ai-ocr", "--records", "25", "-o", str(out),
                                    "--json").stdout)
    assert result["findings"] == [] and result["verified"] is True
    evidence = out / "bundle" / "evidence"
    [transfer] = [json.loads(p.read_text()) for p in evidence.glob("transfer-*.json")]
    assert transfer["manifest"]["record_count"] == 25  # pages
    assert transfer["manifest"]["payload"] == {"media_type": "application/pdf", "unit": "pages"}
    assert transfer["manifest"]["columns"] == []
    # 「送信後5日以内」: the bound counts from the sending, not from a receipt that may never come
    sent_at = datetime.fromisoformat(transfer["sent_at"].replace("Z", "+00:00"))
    assert datetime.fromisoformat(transfer["gateway_erase_due"].replace("Z", "+00:00")) == sent_at + timedelta(days=5)
    [receipt] = [json.loads(p.read_text()) for p in evidence.glob("receipt-*.json")]
    [erasure] = [json.loads(p.read_text()) for p in evidence.glob("gateway-erasure-*.json")]
    assert receipt["matches"] is True and receipt["record_count"] == 25
    # erased in the same act as the receipt, not when the 5 days ran out
    assert erasure["erased_at"] == receipt["issued_at"] and erasure["due"] == receipt["issued_at"]
    assert erasure["process"]["program"] == "gateway receipt"


@pytest.fixture
def ocr_home(home, tmp_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_FAKE_NOW", "2021-05-10T10:00:00+09:00")
    small = OCR.read_text(encoding="utf-8").replace('id = "kurume-2021-ai-ocr"', 'id = "kurume-2021-ai-ocr-small"') \
        .replace("max_records = 50000", "max_records = 3").replace("max_bytes = 100000000", "max_bytes = 4000")
    (tmp_path / "kurume-2021-ai-ocr-small.toml").write_text(small, encoding="utf-8")
    run_gateway("approval", "add", str(tmp_path / "kurume-2021-ai-ocr-small.toml"))
    run_gateway("user", "add", "ocr.staff", "--org", "kurume", "--role", "staff", "--name", "職員")
    return tmp_path


def _send(path, check=False):
    return run_gateway("send", str(path), "--approval", "kurume-2021-ai-ocr-small", "--recipient", "ariake-docai",
                       "--profile", "lgwan-asp", "--password-delivery", "registered-mail", "--as", "ocr.staff",
                       "--paper-ref", "送付伺 1", "--json", check=check)


def test_a_file_that_is_not_a_pdf_is_refused(ocr_home):
    fake = ocr_home / "scans.pdf"
    fake.write_text("氏名,住所\n試験 太郎,久留米市\n", encoding="utf-8")  # named .pdf, but a CSV
    proc = _send(fake)
    assert proc.returncode == 1 and "neither a PDF" in proc.stderr


def test_more_pages_than_the_approval_allows_are_over_the_record_limit(ocr_home):
    proc = _send(scanned_pdf(ocr_home / "four.pdf", 4))
    assert proc.returncode == 1 and json.loads(proc.stdout)["kinds"] == ["over-record-limit"]


def test_a_pdf_past_the_size_bound_is_refused_as_too_large(ocr_home):
    big = scanned_pdf(ocr_home / "three.pdf", 3)
    big.write_bytes(big.read_bytes() + b"%" + b"0" * 5000 + b"\n")  # a comment after %%EOF: still a PDF
    proc = _send(big)
    assert proc.returncode == 1 and json.loads(proc.stdout)["category"] == "too-large"
    sent = _send(scanned_pdf(ocr_home / "two.pdf", 2), check=True)
    assert json.loads(sent.stdout)["records"] == 2
