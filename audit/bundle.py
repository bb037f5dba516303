"""Reading a bundle directory without trusting it.

Everything here assumes the directory was prepared by an adversary: no symlink is followed, no
FIFO or device is opened (opening a FIFO would block forever), every file and every line has a
size cap checked before the bytes are held in memory, and every name must fit FORMAT.md's layout.
"""
from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from audit.result import Failures

MANIFEST = "MANIFEST.json"
KEYS = "keys.json"
ENTRIES = "log/entries.jsonl"
CHECKPOINTS = "log/checkpoints.jsonl"
PRUNINGS = "log/prunings.jsonl"
TREE_HEADS = "checkpoints"  # format 2: checkpoints/<size>.note, C2SP signed checkpoints with cosignatures

# Caps far above anything a real export holds, low enough that a hostile file fails fast.
MANIFEST_CAP = 64 << 20
KEYS_CAP = 4 << 20
TOML_CAP = 1 << 20
EVIDENCE_CAP = 1 << 20
ENTRY_LINE_CAP = 256 << 10
CHECKPOINT_LINE_CAP = 64 << 10
CHECKPOINTS_CAP = 512 << 20
PRUNING_LINE_CAP = 256 << 10
PRUNINGS_CAP = 64 << 20
ENTRIES_CAP = 64 << 30
MAX_DIR_ENTRIES = 1_000_000

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}\Z")
_DIRS = {"approvals": ".toml", "profiles": ".toml", "evidence": ".json", "log": None, TREE_HEADS: ".note",
         "attestations": None}
_TOP_FILES = {MANIFEST, KEYS}
_LOG_FILES = {"entries.jsonl", "checkpoints.jsonl", "prunings.jsonl"}
# attestations/: A-<24 hex>.json, its .json.sig, and allowed_signers (FORMAT.md, "attestations").
_ATTESTATION = re.compile(r"(A-[0-9a-f]{24}\.json(\.sig)?|allowed_signers)\Z")
_FIXED = {"log": lambda name: name in _LOG_FILES, "attestations": lambda name: _ATTESTATION.match(name) is not None}
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...


class BundleUnreadable(Exception):
    """The path is not a directory the auditor can list at all."""


@dataclass
class Inventory:
    root: Path
    files: dict[str, int] = field(default_factory=dict)  # layout path -> size in bytes

    def has(self, path: str) -> bool:
        return path in self.files

    def under(self, directory: str) -> list[str]:
        prefix = directory + "/"
        return sorted(p for p in self.files if p.startswith(prefix))


def list_bundle(root: Path, failures: Failures) -> Inventory:
    """Every regular file that fits the layout; everything else becomes a named failure."""
    try:
        st = os.stat(root)
    except OSError as exc:
        raise BundleUnreadable(f"{root}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise BundleUnreadable(f"{root}: not a directory")
    inventory = Inventory(root)
    try:
        top = _scan(root, "", failures)
    except OSError as exc:
        raise BundleUnreadable(f"{root}: {exc.strerror or exc}") from None
    for name, kind, size in top:
        if kind == "file" and name in _TOP_FILES:
            inventory.files[name] = size
        elif kind == "dir" and name in _DIRS:
            try:
                children = _scan(root / name, name + "/", failures)
            except OSError as exc:
                failures.add("bundle", name + "/", None, f"cannot list directory: {exc.strerror or exc}")
                continue
            for child, ckind, csize in children:
                path = f"{name}/{child}"
                suffix = _DIRS[name]
                fits = _FIXED[name](child) if suffix is None else (
                    child.endswith(suffix) and _NAME.match(child[: -len(suffix)]) is not None)
                if ckind == "file" and fits:
                    inventory.files[path] = csize
                elif ckind == "file":
                    failures.add("bundle", path, None, "file is not part of the bundle layout (FORMAT.md)")
                elif ckind == "dir":
                    failures.add("bundle", path + "/", None, "directory is not part of the bundle layout")
        elif kind == "file":
            failures.add("bundle", name, None, "file is not part of the bundle layout (FORMAT.md)")
        elif kind == "dir":
            failures.add("bundle", name + "/", None, "directory is not part of the bundle layout")
    return inventory


def _scan(directory: Path, prefix: str, failures: Failures) -> list[tuple[str, str, int]]:
    """(name, 'file' | 'dir' | 'other', size) of each entry, never following a symlink."""
    found: list[tuple[str, str, int]] = []
    with os.scandir(directory) as it:
        for count, entry in enumerate(it):
            if count >= MAX_DIR_ENTRIES:
                failures.add("bundle", prefix or ".", None, f"more than {MAX_DIR_ENTRIES} entries; rest not read")
                break
            name = entry.name
            shown = prefix + _printable(name)
            try:
                if entry.is_symlink():
                    failures.add("bundle", shown, None, "symbolic link: not followed, not allowed in a bundle")
                elif entry.is_dir(follow_symlinks=False):
                    found.append((name, "dir", 0))
                elif entry.is_file(follow_symlinks=False):
                    found.append((name, "file", entry.stat(follow_symlinks=False).st_size))
                else:
                    failures.add("bundle", shown, None, "not a regular file (device, FIFO or socket)")
            except OSError as exc:
                failures.add("bundle", shown, None, f"cannot inspect: {exc.strerror or exc}")
    return found


def _printable(name: str) -> str:
    # File names reach terminals and the HTML report; a control character must not act there.
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in name)


class ReadError(Exception):
    pass


def _open_regular(path: Path) -> int:
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise ReadError(f"cannot open: {exc.strerror or exc}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise ReadError("not a regular file")
    return fd


def read_capped(root: Path, rel: str, cap: int) -> bytes:
    """The whole file, or ReadError if it is larger than `cap` (checked before reading)."""
    fd = _open_regular(root / rel)
    try:
        size = os.fstat(fd).st_size
        if size > cap:
            raise ReadError(f"{size} bytes, more than the {cap}-byte limit for this file")
        chunks = []
        remaining = cap + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) > cap:  # grew while being read
            raise ReadError(f"more than the {cap}-byte limit for this file")
        return data
    except OSError as exc:
        raise ReadError(f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def iter_lines(root: Path, rel: str, line_cap: int, file_cap: int, hasher: Hasher) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line without its newline) for each line; None for a line over `line_cap`.

    The whole file streams through `hasher`, so the manifest's hash costs no second read, and
    memory stays bounded by the chunk and line caps whatever the file holds.
    """
    fd = _open_regular(root / rel)
    try:
        size = os.fstat(fd).st_size
        if size > file_cap:
            raise ReadError(f"{size} bytes, more than the {file_cap}-byte limit for this file")
        with os.fdopen(fd, "rb", buffering=0, closefd=False) as f:
            lineno = 0
            carry = b""
            overlong = False
            total = 0
            while True:
                try:
                    block = f.read(4 << 20)
                except OSError as exc:
                    raise ReadError(f"cannot read: {exc.strerror or exc}") from None
                if not block:
                    break
                total += len(block)
                if total > file_cap:
                    raise ReadError(f"more than the {file_cap}-byte limit for this file")
                hasher.update(block)
                parts = block.split(b"\n")
                last = parts.pop()
                for part in parts:
                    lineno += 1
                    if overlong:
                        overlong = False
                        carry = b""
                        yield lineno, None
                        continue
                    if carry:
                        part = carry + part
                        carry = b""
                    yield lineno, (part if len(part) <= line_cap else None)
                if overlong:
                    continue
                if len(carry) + len(last) > line_cap:
                    overlong, carry = True, b""
                else:
                    carry += last
            if carry or overlong:
                yield lineno + 1, (None if overlong else carry)
    finally:
        os.close(fd)
