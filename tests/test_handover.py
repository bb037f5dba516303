"""The hand-over through the command line, end to end, with the auditor as the judge."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.crypto.keystore import KeyStore
from gateway.home import Home
from gateway.operations.accounts import Caller
from gateway.operations.receive import download
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.blobs import BlobStore
from tests.conftest import APPROVALS, city_policy, run_audit, run_gateway
from tests.helpers import import_dv_list, send

AFTER_PERIOD = "2020-10-01T10:00:00+09:00"


def report(home: Path, tmp_path: Path, name: str = "bundle") -> dict:
    bundle = tmp_path / name
    run_gateway("export", "evidence", "--approval", "kurume-2020-teigaku", "-o", str(bundle))
    policy = city_policy(home)
    assert run_audit("verify", str(bundle), trust=policy).returncode == 0
    return json.loads(run_audit("report", str(bundle), "--json", trust=policy).stdout)


def serious(rep: dict) -> set[str]:
    return {f["kind"] for f in rep["findings"] if f["severity"] in ("warning", "violation")}


def test_send_fetch_decrypt_confirm_and_audit(kurume, home, tmp_path):
    notice = tmp_path / "notice.html"
    sent = json.loads(send(kurume, tmp_path, "--notice", str(notice)).stdout)
    assert sent["records"] == 300
    html = notice.read_text(encoding="utf-8")
    passphrase = re.search(r"<td class=\"passphrase\">([2-9A-Z-]+)</td>", html).group(1)
    assert passphrase == sent["passphrase"] and sent["sha256"] in html
    run_gateway("notice", "dispatch", sent["transfer"], "--method", "registered-mail", "--tracking", "1234",
                "--as", "s.staff", "--paper-ref", "書面 1")
    package = tmp_path / "package.age"
    run_gateway("fetch", sent["transfer"], "-o", str(package), "--as", "k.tanaka", "--paper-ref", "書面 1")
    assert b"age-encryption.org/v1" in package.read_bytes()[:30]
    (tmp_path / "pass").write_text(passphrase + "\n")
    out = run_gateway("package", "decrypt", str(package), "-o", str(tmp_path / "plain.csv"),
                      "--passphrase-file", str(tmp_path / "pass")).stdout
    assert sent["sha256"] in out and "records: 300" in out
    run_gateway("receipt", sent["transfer"], "--records", "300", "--sha256", sent["sha256"], "--as", "k.tanaka", "--paper-ref", "書面 1")
    rep = report(home, tmp_path)
    assert rep["verified"] is True and serious(rep) == set()
    actions = [e["action"] for e in json.loads(run_gateway("log", "--approval", "kurume-2020-teigaku", "--json").stdout)]
    assert actions == ["approval.add", "transfer.send", "notice.dispatch", "transfer.download", "transfer.receipt",
                       "evidence.export"]


def test_refused_send_stores_nothing_and_is_a_prevented_finding(kurume, home, tmp_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_FAKE_NOW", AFTER_PERIOD)
    proc = send(kurume, tmp_path, check=False)
    assert proc.returncode == 1
    ja, en = proc.stderr.strip().split("\n", 1)
    assert "[outside-period]" in ja and "期間" in ja and "outside the approval's period" in en
    gw = Gateway.open(Home.resolve(str(home)))
    with gw.unit() as s:
        assert s.scalar(select(func.count()).select_from(m.Transfer)) == 0
        assert s.scalar(select(func.count()).select_from(m.Blob)) == 0
    gw.engine.dispose()
    assert not any((home / "blobs").rglob("*.*")) and not any((home / "work").iterdir())
    rep = report(home, tmp_path)
    prevented = [f for f in rep["findings"] if f["kind"] == "outside-period"]
    assert prevented and prevented[0]["prevented"] is True and serious(rep) == {"outside-period"}


def test_unapproved_column_and_password_with_the_data_are_refused_together(kurume, home, tmp_path):
    extra = tmp_path / "extra.csv"
    text = kurume.read_bytes().decode("cp932").splitlines()
    extra.write_bytes(("\r\n".join([text[0] + ",住民番号"] + [row + ",123" for row in text[1:]]) + "\r\n").encode("cp932"))
    proc = run_gateway("send", str(extra), "--approval", "kurume-2020-teigaku", "--recipient", "chikugo-print",
                       "--profile", "vpn-sftp", "--password-delivery", "vpn-sftp", "--as", "s.staff", "--paper-ref", "書面 1", check=False)
    assert proc.returncode == 1
    assert "[unapproved-field]" in proc.stderr and "[password-same-channel]" in proc.stderr
    assert serious(report(home, tmp_path)) == {"unapproved-field", "password-same-channel"}


def test_only_designated_handlers_download(kurume, home, tmp_path):
    sent = json.loads(send(kurume, tmp_path).stdout)
    proc = run_gateway("fetch", sent["transfer"], "-o", str(tmp_path / "p.age"), "--as", "x.outsider", "--paper-ref", "書面 1", check=False)
    assert proc.returncode == 1 and "取扱者名簿" in proc.stderr
    assert not (tmp_path / "p.age").exists()
    # Staff of the city cannot download either: the transfer is not addressed to them.
    assert run_gateway("fetch", sent["transfer"], "-o", str(tmp_path / "p.age"), "--as", "s.staff", "--paper-ref", "書面 1",
                       check=False).returncode == 1
    assert "non-designated-handler" in serious(report(home, tmp_path))


def test_receipt_mismatch_is_recorded_not_accepted(kurume, home, tmp_path):
    sent = json.loads(send(kurume, tmp_path).stdout)
    proc = run_gateway("receipt", sent["transfer"], "--records", "299", "--sha256", sent["sha256"],
                       "--as", "k.tanaka", "--paper-ref", "書面 1", check=False)
    assert proc.returncode == 1 and "mismatch" in proc.stderr
    rep = report(home, tmp_path)
    assert "receipt-mismatch" in serious(rep)


def test_download_after_crypto_erase_is_refused_and_logged(kurume, home, tmp_path):
    sent = json.loads(send(kurume, tmp_path).stdout)
    gw = Gateway.open(Home.resolve(str(home)))
    blobs = BlobStore(gw.home.blobs, KeyStore(gw.home.keys).kek())
    with gw.unit() as s:
        blob_id = s.get(m.Transfer, sent["transfer"]).package_blob_id
        blobs.crypto_erase(s, blob_id, at=gw.clock.now())
    blobs.remove_file(blob_id)
    with pytest.raises(Exception) as err:
        download(gw, Caller("k.tanaka", "cli"), sent["transfer"], io.BytesIO())
    assert getattr(err.value, "kind", None) == "access-after-deletion"
    gw.engine.dispose()
    refused = json.loads(run_gateway("log", "--outcome", "refused", "--json").stdout)
    assert refused[-1]["kinds"] == ["access-after-deletion"]


def test_excluded_persons_are_removed_and_reported_as_prevented(home, tmp_path, monkeypatch):
    """Shinjuku: DV evacuees, abuse victims and children in care never reach the contractor."""
    monkeypatch.setenv("GATEWAY_FAKE_NOW", "2020-06-01T10:00:00+09:00")
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    run_gateway("approval", "add", str(APPROVALS / "shinjuku-2020-teigaku.toml"))
    run_gateway("user", "add", "sj.staff", "--org", "shinjuku", "--role", "staff", "--name", "新宿 職員")
    import_dv_list(run_gateway, tmp_path)
    source = tmp_path / "shinjuku.csv"
    run_gateway("generate", "recipients", "--count", "400", "--schema", "shinjuku-2020", "--seed", "3",
                "--excluded-rate", "0.05", "-o", str(source))
    recipient = re.search(r'\[\[recipients\]\]\s*id = "([^"]+)"', (APPROVALS / "shinjuku-2020-teigaku.toml")
                          .read_text(encoding="utf-8")).group(1)
    sent = json.loads(run_gateway("send", str(source), "--approval", "shinjuku-2020-teigaku", "--recipient",
                                  recipient, "--profile", "lgwan-asp", "--password-delivery", "hand",
                                  "--as", "sj.staff", "--paper-ref", "書面 1", "--json").stdout)
    removed = sum(sent["removed"].values())
    assert removed > 0 and sent["records"] == 400 - removed
    bundle = tmp_path / "bundle"
    run_gateway("export", "evidence", "-o", str(bundle))
    rep = json.loads(run_audit("report", str(bundle), "--json", trust=city_policy(home)).stdout)
    found = [f for f in rep["findings"] if f["kind"] == "excluded-person"]
    assert len(found) == 1 and found[0]["prevented"] is True and found[0]["transfer"] == sent["transfer"]
    assert serious(rep) == {"excluded-person"}


def test_a_bad_row_late_in_the_file_leaves_no_payload_behind(kurume, home, tmp_path):
    # The minimised rows are encrypted into the work area as they are read; a row that fails
    # near the end must take what was written so far with it.
    lines = kurume.read_bytes().split(b"\r\n" if b"\r\n" in kurume.read_bytes() else b"\n")
    newline = b"\r\n" if b"\r\n" in kurume.read_bytes() else b"\n"
    cells = lines[-2].split(b",")
    cells[1] = b"2099-13-45"  # birth date column: no such date
    lines[-2] = b",".join(cells)
    bad = tmp_path / "late-error.csv"
    bad.write_bytes(newline.join(lines))
    proc = send(bad, tmp_path, check=False)
    assert proc.returncode == 1
    assert "行目" in proc.stderr and "row" in proc.stderr
    assert not any((home / "work").iterdir())
    assert not any((home / "blobs").rglob("*"))
