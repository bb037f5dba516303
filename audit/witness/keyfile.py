"""The witness's private key file: one line, Go's note signer key `PRIVATE+KEY+<name>+<id>+<base64>`.

It is the type 0x01 key string golang.org/x/mod/sumdb/note generates (transparency-dev's witness
reads the same string for its cosignature/v1 signer), so a key can move between implementations.
The file is created with mode 0600 and is refused when others can read it, as OpenSSH refuses a
private key that is readable by group or others.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from audit.cosignature import Cosigner
from audit.note import NoteError, generate_key, parse_private_key

MAX_KEY_FILE = 4096


class KeyFileError(Exception):
    pass


def create(path: Path, name: str) -> Cosigner:
    """Generate a key named `name` and write it to a new file (never over an existing one)."""
    try:
        signer = generate_key(name)
    except NoteError as exc:
        raise KeyFileError(str(exc)) from None
    data = (signer.private_key_string() + "\n").encode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} already exists: a witness key is never overwritten") from None
    except OSError as exc:
        raise KeyFileError(f"cannot create {path}: {exc.strerror or exc}") from None
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_dir(path.parent)
    return Cosigner.from_signer(signer)


def load(path: Path) -> Cosigner:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise KeyFileError(f"cannot open {path}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyFileError(f"{path} is not a regular file")
        if st.st_mode & 0o077:
            raise KeyFileError(f"{path} can be read by others (mode {stat.S_IMODE(st.st_mode):04o}); "
                               "chmod 600 it")
        data = os.read(fd, MAX_KEY_FILE + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_KEY_FILE:
        raise KeyFileError(f"{path} is too large to be a key file")
    try:
        text = data.decode("ascii")
        line = text[:-1] if text.endswith("\n") else text
        if "\n" in line:
            raise KeyFileError(f"{path} holds more than one line")
        return Cosigner.from_signer(parse_private_key(line))
    except (UnicodeDecodeError, NoteError) as exc:
        # Never echo the file: it is a secret.
        raise KeyFileError(f"{path} is not a PRIVATE+KEY+<name>+<id>+<key> line ({type(exc).__name__})") from None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
