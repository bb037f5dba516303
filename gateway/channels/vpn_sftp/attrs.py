"""The attributes the jail shows for its directories and files: read-only, owned by no one."""
from __future__ import annotations

import stat
import time

import paramiko


def attrs(name: str, *, directory: bool, size: int = 0, mtime: float | None = None) -> paramiko.SFTPAttributes:
    a = paramiko.SFTPAttributes()
    a.filename = name
    a.st_mode = (stat.S_IFDIR | 0o500) if directory else (stat.S_IFREG | 0o400)
    a.st_size = size
    a.st_uid = a.st_gid = 0
    a.st_mtime = a.st_atime = int(mtime or time.time())
    return a
