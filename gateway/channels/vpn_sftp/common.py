"""What the jail (jail.py) and its attestation files (attestations.py) share: the SSH session they
serve, the attributes of the files they make up, and the one mapping of refusals onto SFTP's status
codes. The jail imports attestations.py, so these live here rather than in either."""
from __future__ import annotations

import stat
import time
from typing import Protocol

import paramiko
from paramiko.sftp import SFTP_FAILURE, SFTP_NO_SUCH_FILE, SFTP_PERMISSION_DENIED

from gateway.channels.vpn_sftp.limits import Limits
from gateway.errors import Category, GatewayError
from gateway.ledger.log import Actor
from gateway.operations.accounts import Caller
from gateway.service import Gateway


class Gate(Protocol):
    """What the jail needs of the SSH session it serves (server.SshGate)."""

    gw: Gateway
    login: str | None
    source: str | None
    limits: Limits

    def caller(self) -> Caller: ...

    def caller_actor(self) -> Actor: ...


def attrs(name: str, *, directory: bool, size: int = 0, mtime: float | None = None) -> paramiko.SFTPAttributes:
    """A file or directory as the jail shows it: read-only, owned by no one. Without `mtime` (a file
    made for this session) its time is the real time: a file time for the client, not evidence."""
    a = paramiko.SFTPAttributes()
    a.filename = name
    a.st_mode = (stat.S_IFDIR | 0o500) if directory else (stat.S_IFREG | 0o400)
    a.st_size = size
    a.st_uid = a.st_gid = 0
    a.st_mtime = a.st_atime = int(mtime or time.time())
    return a


def status_of(err: GatewayError) -> int:
    """The one mapping of the vocabulary onto SFTP's status codes: what cannot be known is "no such
    file", a fault of ours is a failure, and every other refusal is "permission denied"."""
    if err.category is Category.NOT_FOUND:
        return SFTP_NO_SUCH_FILE
    if err.category in (Category.BUSY, Category.UNAVAILABLE, Category.DAMAGED):
        return SFTP_FAILURE
    return SFTP_PERMISSION_DENIED
