"""A package opened in `/outbox`: nothing is decrypted until the client reads.

Opening a package only checks that the caller may have it (`receive.may_download`, which logs a
refusal and nothing else). The first read starts `receive.download` writing the package into a
spool in a thread while the client reads; that operation logs a download once the client closed
the file, complete only if every byte reached the client (spool.py). So an open that reads
nothing costs no decryption, no spool file and no log entry: twenty of them once gave twenty
`transfer.download ok` entries and twenty full decryptions (issue 19, defect 4).

How many packages one session holds open, and how often one package is open in all sessions,
are capped (`MAX_OPEN`, `Limits.max_opens_per_transfer`): each reading handle may hold a
decrypting thread and a spool file.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import paramiko
from paramiko.sftp import SFTP_FAILURE

from gateway.channels.vpn_sftp.common import attrs
from gateway.channels.vpn_sftp.spool import Spool
from gateway.operations.accounts import Caller
from gateway.operations.receive import download
from gateway.service import Gateway

MAX_OPEN = 4  # packages open at once in one session
CLOSE_WAIT = 30.0  # how long a close waits for the download's entry (a busy database, at most)


class PackageHandle(paramiko.SFTPHandle):
    """Reads at any offset of the package, as soon as download() has written that far."""

    def __init__(self, gw: Gateway, caller: Caller, transfer: str, size: int,
                 released: Callable[[PackageHandle], None]) -> None:
        super().__init__(os.O_RDONLY)
        self.gw, self.caller, self.transfer, self.size = gw, caller, transfer, size
        self._released = released
        self._spool: Spool | None = None
        self._writer: threading.Thread | None = None
        self._closed = False

    def _started(self) -> Spool:
        """The spool, its writer started by the first read (requests of a session come one at a
        time, in the session's thread)."""
        if self._spool is None:
            self._spool = Spool(Path(self.gw.home.root) / "work")
            gw, caller, transfer = self.gw, self.caller, self.transfer
            self._writer = self._spool.fill(lambda dst: download(gw, caller, transfer, dst))  # type: ignore[arg-type]
        return self._spool

    def read(self, offset: int, length: int) -> bytes | int:
        spool = self._started()
        if not spool.wait_for(offset + length) or spool.error is not None:
            return SFTP_FAILURE
        return spool.read(offset, length)

    def read_into(self, offset: int, view: memoryview) -> int | None:
        """What GatewaySftpServer uses: the bytes land in its reply buffer (protocol.py)."""
        spool = self._started()
        if not spool.wait_for(offset + len(view)) or spool.error is not None:
            return None
        return spool.read_into(offset, view)

    def stat(self) -> paramiko.SFTPAttributes:
        return attrs("", directory=False, size=self.size)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._spool is not None and self._writer is not None:
                self._spool.close()
                # download() logs what reached the client once it closed the file: the close is
                # answered after that entry is written, so the client never sees a download the
                # log does not.
                self._writer.join(timeout=CLOSE_WAIT)
        finally:
            self._released(self)
