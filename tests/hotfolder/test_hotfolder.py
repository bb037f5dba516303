"""The hot folder: many files at once, hostile entries, and a watcher killed mid-file."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.home import Home
from gateway.service import Gateway
from gateway.store import models as m
from tests.conftest import APPROVALS, BIN, run_gateway

IN_PERIOD = "2020-06-01T10:00:00+09:00"
KURUME = "kurume-2020-teigaku"


@pytest.fixture
def folder(home, tmp_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_FAKE_NOW", IN_PERIOD)
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    # The hot folder's tests drop batch after batch into the vpn-sftp folder: this home's copy of
    # Kurume's approval drops its "VPN for the set-up only" rule (first_transfer_only; the gateway is
    # held to it in tests/safeguards), which would reject every batch after the first.
    kurume = tmp_path / "kurume-2020-teigaku.toml"
    kurume.write_text((APPROVALS / "kurume-2020-teigaku.toml").read_text(encoding="utf-8")
                      .replace('first_transfer_only = ["vpn-sftp"]\n', ""), encoding="utf-8")
    for approval in (kurume, APPROVALS / "kurume-2021-ai-ocr.toml"):
        run_gateway("approval", "add", str(approval))
    run_gateway("user", "add", "hf.job", "--org", "kurume", "--role", "staff", "--name", "連携 ジョブ")
    root = tmp_path / "hot"
    root.mkdir()
    run_gateway("hotfolder", "register", str(root), "--owner", "hf.job")
    return root


def generate(path: Path, count: int, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    run_gateway("generate", "recipients", "--count", str(count), "--schema", "kurume-2020", "--seed", str(seed),
                "-o", str(path))
    return path


def transfers(home: Path) -> int:
    gw = Gateway.open(Home.resolve(str(home)))
    with gw.unit() as s:
        n = s.scalar(select(func.count()).select_from(m.Transfer))
    gw.engine.dispose()
    return n


def outcomes(root: Path) -> dict[str, list[str]]:
    done = sorted(str(p.relative_to(root / ".done"))[: -len(".json")] for p in (root / ".done").rglob("*.json"))
    rejected = sorted(str(p.relative_to(root / ".rejected")) for p in (root / ".rejected").rglob("*")
                      if not p.name.endswith(".reasons.txt") and (p.is_file() or p.is_symlink() or p.is_fifo()))
    return {"done": done, "rejected": rejected}


def plaintext_anywhere(root: Path, home: Path) -> list[Path]:
    """Recipient data left outside .rejected: the processing area, the gateway's work area."""
    return [p for p in [*(root / ".processing").iterdir(), *(home / "work").iterdir()]]


def test_twenty_files_at_once(folder, home):
    k = folder / KURUME / "chikugo-print"
    expect_done = []
    for n in range(4):  # same names under two profile folders: both are sent
        generate(k / "vpn-sftp" / f"batch{n}.csv", 50, seed=n)
        generate(k / "lgwan-asp" / f"batch{n}.csv", 50, seed=100 + n)
        expect_done += [f"{KURUME}/chikugo-print/vpn-sftp/batch{n}.csv", f"{KURUME}/chikugo-print/lgwan-asp/batch{n}.csv"]
    tmp = generate(k / "vpn-sftp" / "late.csv.tmp", 50, seed=9)
    tmp.rename(tmp.with_name("late.csv"))  # the producer's rename makes it complete
    expect_done.append(f"{KURUME}/chikugo-print/vpn-sftp/late.csv")
    rejected = {
        # same name, another approval folder: outside that approval's period
        "kurume-2021-ai-ocr/chikugo-print/lgwan-asp/batch0.csv": lambda p: generate(p, 50, seed=0),
        # the subcontractor cannot receive directly from the city
        f"{KURUME}/ariake-fuunyu/vpn-sftp/batch1.csv": lambda p: generate(p, 50, seed=1),
        f"{KURUME}/chikugo-print/vpn-sftp/garbage.csv": lambda p: p.write_bytes(os.urandom(4096)),
        f"{KURUME}/chikugo-print/vpn-sftp/empty.csv": lambda p: p.write_bytes(b""),
        f"{KURUME}/chikugo-print/vpn-sftp/ragged.csv": lambda p: p.write_bytes("氏名,生年月日\r\n山田,1970-01-01,余分\r\n".encode("cp932")),
        f"{KURUME}/chikugo-print/vpn-sftp/extra-column.csv": lambda p: p.write_bytes(
            "氏名,生年月日,住民番号\r\n山田 太郎,1970-01-01,123\r\n".encode("cp932")),
        f"{KURUME}/chikugo-print/vpn-sftp/link.csv": lambda p: p.symlink_to("/etc/passwd"),
        f"{KURUME}/chikugo-print/vpn-sftp/pipe.csv": lambda p: os.mkfifo(p),
        f"{KURUME}/misplaced.csv": lambda p: p.write_text("x"),
        f"{KURUME}/chikugo-print/no-such-profile/batch2.csv": lambda p: generate(p, 50, seed=2),
        f"{KURUME}/no-such-org/vpn-sftp/batch3.csv": lambda p: generate(p, 50, seed=3),
    }
    for rel, make in rejected.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        make(path)
    (k / "vpn-sftp" / ".hidden.csv").write_text("ignored")
    assert len(expect_done) + len(rejected) == 20
    proc = run_gateway("hotfolder", "run", str(folder), "--once", "--settle", "0.2", "--workers", "2", "--json")
    counts = json.loads(proc.stdout)
    got = outcomes(folder)
    assert got["done"] == sorted(expect_done)
    assert got["rejected"] == sorted(rejected)
    assert counts == {"done": 9, "rejected": 11, "failed": 0}
    assert transfers(home) == 9
    assert plaintext_anywhere(folder, home) == []
    assert (k / "vpn-sftp" / ".hidden.csv").exists()  # hidden files are not the gateway's
    assert os.readlink(folder / ".rejected" / KURUME / "chikugo-print/vpn-sftp/link.csv") == "/etc/passwd"
    reasons = (folder / ".rejected" / KURUME / "chikugo-print/vpn-sftp/extra-column.csv.reasons.txt").read_text()
    ja, en = reasons.split("\n\n", 1)
    assert "住民番号" in ja and "unapproved" in en or "column" in en
    done = json.loads((folder / ".done" / KURUME / "chikugo-print/vpn-sftp/batch0.csv.json").read_text())
    assert done["records"] == 50 and Path(done["password_notice"]).exists()
    # Running again sends nothing twice.
    again = json.loads(run_gateway("hotfolder", "run", str(folder), "--once", "--json").stdout)
    assert again == {"done": 0, "rejected": 0, "failed": 0} and transfers(home) == 9


def test_watcher_killed_mid_file_finishes_after_restart(folder, home, tmp_path):
    big = generate(tmp_path / "staging" / "kurume-300k.csv.tmp", 300_000, seed=2020)
    target = folder / KURUME / "chikugo-print" / "vpn-sftp" / "kurume-300k.csv"
    target.parent.mkdir(parents=True)
    watcher = subprocess.Popen([str(BIN / "gateway"), "hotfolder", "run", str(folder), "--settle", "0.2"],
                               stdout=subprocess.DEVNULL, env=os.environ)
    try:
        os.replace(big, target)
        deadline = time.monotonic() + 60
        while not any((folder / ".processing").glob("*.data")):
            assert time.monotonic() < deadline, "the watcher never claimed the file"
            time.sleep(0.02)
        time.sleep(0.5)  # well inside validating and encrypting 300k records
    finally:
        watcher.send_signal(signal.SIGKILL)
        watcher.wait()
    assert not target.exists()  # it was claimed before the kill
    counts = json.loads(run_gateway("hotfolder", "run", str(folder), "--once", "--json").stdout)
    assert counts["done"] == 1
    assert outcomes(folder) == {"done": [f"{KURUME}/chikugo-print/vpn-sftp/kurume-300k.csv"], "rejected": []}
    assert transfers(home) == 1
    assert plaintext_anywhere(folder, home) == []
    assert len(list((home / "notices").glob("*.html"))) == 1


def test_sent_but_not_finished_is_finished_not_resent(folder, home):
    """The window between the send's commit and the `.done` record: the restart only finishes."""
    from gateway.channels.hotfolder.layout import scan
    from gateway.channels.hotfolder.processor import HotFolder
    from gateway.operations.accounts import Caller
    from gateway.operations.send import SendRequest, send

    generate(folder / KURUME / "chikugo-print" / "vpn-sftp" / "a.csv", 50, seed=5)
    gw = Gateway.open(Home.resolve(str(home)))
    hf = HotFolder(gw, folder, "hf.job")
    claim = hf.claim(scan(folder)[0][0])
    send(gw, Caller("hf.job", "hotfolder"), SendRequest(
        claim.data, KURUME, "vpn-sftp", "chikugo-print", "registered-mail", source_key=hf.source_key(claim)))
    assert hf.recover() == []  # finished during recovery
    gw.close()
    assert outcomes(folder)["done"] == [f"{KURUME}/chikugo-print/vpn-sftp/a.csv"]
    assert transfers(home) == 1 and plaintext_anywhere(folder, home) == []


@pytest.mark.parametrize("swap", ["symlink", "fifo"])
def test_an_entry_swapped_between_scan_and_claim_is_rejected_unopened(folder, home, swap):
    """Issue 19, defect 7: between the scan and the claim a link or a pipe can be put where the file
    was. The claim judges what it moved on a descriptor opened with O_NOFOLLOW|O_NONBLOCK: it is
    rejected, never read (a pipe would block the worker; a link would send what it points at)."""
    from gateway.channels.hotfolder import layout
    from gateway.channels.hotfolder.processor import HotFolder

    path = generate(folder / KURUME / "chikugo-print" / "vpn-sftp" / "r.csv", 20, 3)
    takes, _ = layout.scan(folder)
    assert [t.path for t in takes] == [path]
    path.unlink()
    if swap == "symlink":
        path.symlink_to("/etc/passwd")
    else:
        os.mkfifo(path)
    gw = Gateway.open(Home.resolve(str(home)))
    try:
        assert HotFolder(gw, folder, "hf.job").claim(takes[0]) is None
    finally:
        gw.engine.dispose()
    assert outcomes(folder)["rejected"] == [f"{KURUME}/chikugo-print/vpn-sftp/r.csv"]
    assert transfers(home) == 0 and not list((folder / ".processing").iterdir())
    refused = json.loads(run_gateway("log", "--action", "hotfolder.reject", "--json").stdout)
    assert len(refused) == 1 and "not a regular file" in refused[0]["reason"]


def test_kurumes_vpn_line_takes_the_first_batch_only(home, tmp_path, monkeypatch):
    """The shipped Kurume approval allows its VPN line for the set-up (the first hand-over) only: a
    later batch dropped in the vpn-sftp folder is rejected with the reason, one in lgwan-asp is sent."""
    monkeypatch.setenv("GATEWAY_FAKE_NOW", IN_PERIOD)
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    run_gateway("approval", "add", str(APPROVALS / f"{KURUME}.toml"))
    run_gateway("user", "add", "hf.job", "--org", "kurume", "--role", "staff", "--name", "連携 ジョブ")
    root = tmp_path / "hot"
    root.mkdir()
    run_gateway("hotfolder", "register", str(root), "--owner", "hf.job")
    k = root / KURUME / "chikugo-print"
    generate(k / "vpn-sftp" / "setup.csv", 20, seed=1)
    assert json.loads(run_gateway("hotfolder", "run", str(root), "--once", "--json").stdout)["done"] == 1
    generate(k / "vpn-sftp" / "update.csv", 20, seed=2)
    generate(k / "lgwan-asp" / "update.csv", 20, seed=3)
    counts = json.loads(run_gateway("hotfolder", "run", str(root), "--once", "--json").stdout)
    assert counts == {"done": 1, "rejected": 1, "failed": 0}
    assert outcomes(root) == {"done": [f"{KURUME}/chikugo-print/lgwan-asp/update.csv", f"{KURUME}/chikugo-print/vpn-sftp/setup.csv"],
                              "rejected": [f"{KURUME}/chikugo-print/vpn-sftp/update.csv"]}
    reasons = (root / ".rejected" / KURUME / "chikugo-print/vpn-sftp/update.csv.reasons.txt").read_text()
    assert "最初の受け渡し" in reasons and "first hand-over only" in reasons
