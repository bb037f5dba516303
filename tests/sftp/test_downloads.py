"""/outbox over a paramiko client on a real socket: an open is not a download (issue 19, defect 4).

Twenty opens of a package with nothing read once gave twenty `transfer.download ok` entries (then,
after the spool learnt what reached the client, twenty `failed` ones) and twenty full decryptions
into spool files. An open now decrypts nothing and logs nothing; a download is logged when the
client read it; and how often packages are open at once is capped per session and per package.

A package allows one complete download (issue 20): the limit is taken when a download begins, in
the database, so downloads begun at once in several sessions pass exactly as often as it allows; a
download the client broke off uses a retry, not the complete one.
"""
from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import paramiko
import pytest

from tests.sftp.conftest import fresh_transfer, log


def session(sftp) -> tuple[paramiko.Transport, paramiko.SFTPClient]:
    sock = socket.create_connection(("127.0.0.1", sftp.port), timeout=10)
    t = paramiko.Transport(sock)
    t.start_client(timeout=10)
    t.auth_publickey("k.tanaka", paramiko.Ed25519Key.from_private_key_file(str(sftp.key)))
    return t, paramiko.SFTPClient.from_transport(t)


def open_in_work_area(home: Path) -> list[str]:
    """Files of the work area this process (the server's) holds open, spool files included
    (those are unlinked at once, but still open)."""
    work = str(home / "work")
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(work):
            found.append(target)
    return found


def test_opens_that_read_nothing_decrypt_nothing_and_log_no_download(sftp):
    path = f"/outbox/{sftp.transfer}.age"
    before = len(log(sftp.home, action="transfer.download"))
    t, c = session(sftp)
    try:
        for _ in range(20):
            f = c.open(path, "rb")
            assert f.stat().st_size == c.stat(path).st_size > 0  # fstat answers without decrypting
            assert open_in_work_area(sftp.home) == []
            f.close()
        assert log(sftp.home, action="transfer.download")[before:] == []
        with c.open(path, "rb") as f:
            f.prefetch()
            assert len(f.read()) == c.stat(path).st_size
    finally:
        t.close()
    assert [e["outcome"] for e in log(sftp.home, action="transfer.download")[before:]] == ["ok"]


MAX_OPEN = 4  # packages open at once in one session, and one package in all (docs/interface.md)


def test_open_packages_are_capped_per_session_and_per_package(sftp, installation, tmp_path):
    transfer = fresh_transfer(installation, tmp_path)["transfer"]  # its one complete download is below
    path = f"/outbox/{transfer}.age"
    before = len(log(sftp.home, action="transfer.download"))
    t1, c1 = session(sftp)
    t2, c2 = session(sftp)
    try:
        held, refused = [], 0
        for _ in range(20):
            try:
                held.append(c1.open(path, "rb"))
            except PermissionError:
                refused += 1
        assert len(held) == MAX_OPEN and refused == 20 - MAX_OPEN
        with pytest.raises(PermissionError):  # the package is open as often as allowed
            c2.open(path, "rb")
        for f in held:
            f.close()
        with c2.open(path, "rb") as f:  # the slots came back with the closes
            f.prefetch()
            assert len(f.read()) == c2.stat(path).st_size
    finally:
        t1.close()
        t2.close()
    entries = log(sftp.home, action="transfer.download")[before:]
    assert [e["outcome"] for e in entries] == ["refused"] * (20 - MAX_OPEN + 1) + ["ok"]
    assert {e["object"]["transfer"] for e in entries} == {transfer}


def test_downloads_begun_at_once_pass_exactly_as_often_as_the_limit_allows(sftp, installation, tmp_path):
    """Three sessions open the package (an open takes nothing) and read it at the same instant:
    one gets it, two are refused, whatever the order. Counted from the log at the open, all
    three passed: the log has a download only once the client closed it."""
    transfer = fresh_transfer(installation, tmp_path)["transfer"]
    path = f"/outbox/{transfer}.age"
    before = len(log(sftp.home, action="transfer.download"))
    sessions = [session(sftp) for _ in range(3)]
    got: list[int | OSError] = [0] * len(sessions)
    try:
        size = sessions[0][1].stat(path).st_size
        files = [c.open(path, "rb") for _, c in sessions]
        start = threading.Barrier(len(files))

        def fetch(i: int) -> None:
            start.wait()
            try:
                got[i] = len(files[i].read())
            except OSError as err:
                got[i] = err

        threads = [threading.Thread(target=fetch, args=(i,)) for i in range(len(files))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        for f in files:
            f.close()
    finally:
        for t, _ in sessions:
            t.close()
    assert sorted(isinstance(g, OSError) for g in got) == [False, True, True], got
    assert size in got
    entries = log(sftp.home, action="transfer.download")[before:]
    assert sorted(e["outcome"] for e in entries) == ["ok", "refused", "refused"]
    assert [e["kinds"] for e in entries if e["outcome"] == "refused"] == [["download-over-limit"]] * 2


def test_a_broken_download_is_a_retry_and_a_second_complete_one_is_refused(sftp, installation, tmp_path):
    """What a contractor does: the line drops mid-file; they fetch it again, whole; a copy later
    is refused (複写の禁止) and the refusal is in the log."""
    transfer = fresh_transfer(installation, tmp_path)["transfer"]
    path = f"/outbox/{transfer}.age"
    before = len(log(sftp.home, action="transfer.download"))
    t, c = session(sftp)
    try:
        with c.open(path, "rb") as f:
            assert len(f.read(1000)) == 1000  # and the client closes: broken off
        with c.open(path, "rb") as f:
            f.prefetch()
            assert len(f.read()) == c.stat(path).st_size
        with pytest.raises(OSError), c.open(path, "rb") as f:  # refused at the open
            f.read()
    finally:
        t.close()
    entries = log(sftp.home, action="transfer.download")[before:]
    assert [e["outcome"] for e in entries] == ["failed", "ok", "refused"]
    assert entries[-1]["kinds"] == ["download-over-limit"]
