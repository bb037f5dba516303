"""Which entries of a hot folder are files to take, which to leave alone, and which to reject.

The tree is `DIR/<approval-id>/<recipient-org>/<profile>/<file>`. Nothing in it is executed,
interpreted or followed: entries are examined with lstat and never opened unless they are plain
files at exactly that depth. (Cleo's 2024 breach came through a watched folder whose contents were
executed.) The gateway's own areas are hidden directories at the top: `.processing`, `.done`,
`.rejected`.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

PROCESSING, DONE, REJECTED = ".processing", ".done", ".rejected"
DEPTH = 4  # approval / organisation / profile / file


class InTree:
    """A place in the tree, `<approval>/<recipient>/<profile>/<name>`, by its parts."""

    parts: tuple[str, ...]

    @property
    def approval(self) -> str:
        return self.parts[0]

    @property
    def recipient(self) -> str:
        return self.parts[1]

    @property
    def profile(self) -> str:
        return self.parts[2]

    @property
    def folder(self) -> str:
        return "/".join(self.parts[:-1])

    @property
    def name(self) -> str:
        return self.parts[-1]


@dataclass(frozen=True)
class Entry(InTree):
    path: Path
    parts: tuple[str, ...]  # relative to the hot folder


@dataclass(frozen=True)
class Take(Entry):
    size: int = 0
    mtime_ns: int = 0


@dataclass(frozen=True)
class Reject(Entry):
    ja: str = ""
    en: str = ""


def ignored(name: str) -> bool:
    """Hidden files and files still being written under a temporary name."""
    return name.startswith(".") or name.endswith((".tmp", ".part", ".partial", "~"))


def scan(root: Path) -> tuple[list[Take], list[Reject]]:
    takes: list[Take] = []
    rejects: list[Reject] = []
    _walk(root, (), takes, rejects)
    return takes, rejects


def _walk(directory: Path, parts: tuple[str, ...], takes: list[Take], rejects: list[Reject]) -> None:
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return
    for entry in entries:
        if ignored(entry.name):
            continue
        here = (*parts, entry.name)
        st = entry.stat(follow_symlinks=False)
        path = Path(entry.path)
        if stat.S_ISDIR(st.st_mode):
            if len(here) < DEPTH:
                _walk(path, here, takes, rejects)
            else:
                rejects.append(Reject(path, here, "ここにフォルダーは置けません。",
                                      "a directory cannot be placed here."))
        elif not stat.S_ISREG(st.st_mode):
            kind_ja, kind_en = _kind(st.st_mode)
            rejects.append(Reject(path, here, f"{kind_ja}は受け付けません。通常のファイルとして置いてください。",
                                  f"{kind_en} is not accepted; place a regular file."))
        elif len(here) != DEPTH:
            rejects.append(Reject(path, here, "置き場所が違います。<承認 id>/<提供先>/<受け渡し方法>/ の下に置いてください。",
                                  "wrong place: put files under <approval-id>/<recipient-org>/<profile>/."))
        else:
            takes.append(Take(path, here, size=st.st_size, mtime_ns=st.st_mtime_ns))


def _kind(mode: int) -> tuple[str, str]:
    if stat.S_ISLNK(mode):
        return "シンボリックリンク", "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "名前付きパイプ", "a named pipe"
    if stat.S_ISSOCK(mode):
        return "ソケット", "a socket"
    return "デバイスファイル", "a device file"
