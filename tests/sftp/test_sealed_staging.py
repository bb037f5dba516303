"""An SFTP delivery is never on disk in clear, not even while it arrives (issue 19, defect 1):
the inbox writes it into the blob store as it arrives, encrypted under the blob's own key, and
nothing is staged in the work area to be read back at close (issue 25). A paramiko client over a real
socket writes a file with a marker; every file under the home is scanned for the marker while
the upload is open and after it is stored. The database files are owner-only."""
from __future__ import annotations

import contextlib
import os
import socket
import stat

import paramiko
import pytest

from tests.helpers import files_holding
from tests.sftp.conftest import log

MARKER = b"ZQX-SEALED-STAGING-MARKER-7731"


def blob_temporaries(home) -> list:
    return list((home / "blobs").glob("??/.*.tmp"))  # store/objects: a blob being written



def test_an_sftp_delivery_is_never_on_disk_in_clear(sftp):
    sock = socket.create_connection(("127.0.0.1", sftp.port), timeout=10)
    t = paramiko.Transport(sock)
    t.start_client(timeout=10)
    t.auth_publickey("k.tanaka", paramiko.Ed25519Key.from_private_key_file(str(sftp.key)))
    c = paramiko.SFTPClient.from_transport(t)
    before = len(log(sftp.home, action="deliverable.upload", outcome="ok"))
    body = (MARKER + b"\n" + os.urandom(2000)) * 1500  # about 3 MB: more than any buffer holds
    try:
        f = c.open(f"/inbox/{sftp.transfer}.returned-mail.csv", "wb")
        f.write(body[: len(body) // 2])
        f.flush()  # every write answered: the server has all of it
        assert blob_temporaries(sftp.home)  # going into the blob store as it arrives ...
        assert not list((sftp.home / "work").glob("*.upload"))  # ... with no staging copy ...
        assert files_holding(sftp.home, MARKER) == []  # ... and not in clear
        f.write(body[len(body) // 2:])
        f.close()
        for db in sftp.home.glob("gateway.db*"):  # the WAL and shared memory too, while the server has them open
            assert stat.S_IMODE(db.stat().st_mode) == 0o600, db
    finally:
        t.close()
    assert len(log(sftp.home, action="deliverable.upload", outcome="ok")) == before + 1
    assert files_holding(sftp.home, MARKER) == []
    assert not list((sftp.home / "work").glob("*.upload")) and blob_temporaries(sftp.home) == []


def test_writes_out_of_order_are_refused_and_nothing_is_kept(sftp):
    sock = socket.create_connection(("127.0.0.1", sftp.port), timeout=10)
    t = paramiko.Transport(sock)
    t.start_client(timeout=10)
    t.auth_publickey("k.tanaka", paramiko.Ed25519Key.from_private_key_file(str(sftp.key)))
    c = paramiko.SFTPClient.from_transport(t)
    before = len(log(sftp.home, action="deliverable.upload"))
    try:
        f = c.open(f"/inbox/{sftp.transfer}.gappy.bin", "wb")
        f.write(b"a" * 1000)
        f.flush()
        f.seek(5000)  # a hole: a stream cipher cannot take it
        with pytest.raises(OSError):  # the client is told
            f.write(b"b" * 1000)
            f.flush()
        with contextlib.suppress(OSError):
            f.close()  # refused too: nothing of it was kept
    finally:
        t.close()
    entries = log(sftp.home, action="deliverable.upload")[before:]
    assert [e["outcome"] for e in entries] == ["refused"]
    assert not list((sftp.home / "work").glob("*.upload")) and blob_temporaries(sftp.home) == []
