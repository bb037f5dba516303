"""Integrity is not erasure (issue 26, finding 3): a blob file missing from disk was reported as
"erased at the end of its retention window", logged as access-after-deletion against the
contractor and shown by the auditor as their prevented violation; a flipped bit gave a traceback
and no entry. Also `gateway doctor`, which finds both, and a damaged database."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gateway.home import Home
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.blobs import BlobStore
from tests.conftest import city_policy, run_audit, run_gateway
from tests.helpers import send


def blob_path(home: Path, transfer: str) -> Path:
    gw = Gateway.open(Home.resolve(str(home)))
    try:
        with gw.read() as s:
            blob = s.get(m.Transfer, transfer).package_blob_id
        return BlobStore(gw.home.blobs, gw.keys.kek()).path(blob)
    finally:
        gw.engine.dispose()


def doctor(**env: str) -> dict:
    return json.loads(run_gateway("doctor", "--json", check=False, env=env or None).stdout)


def check_of(result: dict, name: str) -> dict:
    return next(c for c in result["checks"] if c["check"] == name)


@pytest.mark.parametrize("damage", ["missing", "flipped-bit"])
def test_a_lost_package_is_the_gateways_failure_not_the_contractors(kurume, home, tmp_path, damage):
    sent = json.loads(send(kurume, tmp_path).stdout)
    path = blob_path(home, sent["transfer"])
    shutil.copy2(path, tmp_path / "backup")
    if damage == "missing":
        path.unlink()
    else:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    proc = run_gateway("fetch", sent["transfer"], "-o", str(tmp_path / "p.age"), "--as", "k.tanaka", "--paper-ref", "書面 1", "--json",
                       check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    assert answer["category"] == "damaged" and answer["kinds"] == ["integrity-failure"]
    assert "not of anything you did" in answer["en"] and "erased" not in answer["en"]
    assert not (tmp_path / "p.age").exists()
    refused = json.loads(run_gateway("log", "--outcome", "refused", "--json").stdout)
    assert [e["kinds"] for e in refused if e["action"] == "transfer.download"] == [["integrity-failure"]]

    found = doctor()
    assert found["ok"] is False and check_of(found, "blobs")["status"] == "error"
    assert any(sent["transfer"] in d and str(path) in d for d in check_of(found, "blobs")["details"])

    bundle = tmp_path / "bundle"
    run_gateway("export", "evidence", "-o", str(bundle))
    rep = json.loads(run_audit("report", str(bundle), "--json", trust=city_policy(home)).stdout)
    kinds = [(f["kind"], f["prevented"]) for f in rep["findings"] if f["severity"] != "info"]
    assert kinds == [("integrity-failure", False)]
    (finding,) = [f for f in rep["findings"] if f["kind"] == "integrity-failure"]
    assert "a failure of the gateway, not of k.tanaka" in finding["detail"]

    # Restored from the backup, the package opens again and the doctor is content.
    shutil.copy2(tmp_path / "backup", path)
    run_gateway("fetch", sent["transfer"], "-o", str(tmp_path / "p.age"), "--as", "k.tanaka", "--paper-ref", "書面 1")
    assert doctor()["ok"] is True


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_doctor_finds_a_malformed_page_and_says_not_to_run_init(kurume, home, tmp_path, db_url):
    send(kurume, tmp_path)
    assert doctor()["ok"] is True
    database = Path(db_url.removeprefix("sqlite:///"))
    run_gateway("log", "--json")  # a last reader checkpoints the WAL into the file
    data = bytearray(database.read_bytes())
    page = 4096
    for at in range(page, len(data), page):  # scribble over every page but the schema's
        data[at:at + 64] = b"\xff" * 64
    database.write_bytes(bytes(data))
    found = doctor()
    assert found["ok"] is False
    db_check = check_of(found, "database")
    assert db_check["status"] == "error" and "damaged" in db_check["en"] and "Do not run `gateway init`" in db_check["en"]
    # A command that trips on it answers the same, with no traceback and without "run init".
    proc = run_gateway("log", "--json", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "database is damaged" in proc.stderr and "Do not run `gateway init`" in proc.stderr
