"""/outbox over a paramiko client on a real socket: an open is not a download (issue 19, defect 4).

Twenty opens of a package with nothing read once gave twenty `transfer.download ok` entries (then,
after the spool learnt what reached the client, twenty `failed` ones) and twenty full decryptions
into spool files. An open now decrypts nothing and logs nothing; a download is logged when the
client read it; and how often packages are open at once is capped per session and per package.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

import paramiko
import pytest

from tests.sftp.conftest import log


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


def test_open_packages_are_capped_per_session_and_per_package(sftp):
    path = f"/outbox/{sftp.transfer}.age"
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
    assert {e["object"]["transfer"] for e in entries} == {sftp.transfer}
