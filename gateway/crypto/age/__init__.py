"""age v1 files (C2SP age.md): streaming encryption to passphrases (scrypt) and X25519 keys.

Files written here open with the `age` command line tool, and files from `age` open here.
Decryption failures raise one of HeaderError, NoMatchError, HmacError or PayloadError.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from gateway.crypto.age.errors import (
    AgeError,
    HeaderError,
    HmacError,
    NoMatchError,
    PayloadError,
    WorkFactorTooHigh,
)
from gateway.crypto.age.format import FILE_KEY_SIZE, Stanza, encode_header, read_header, verify_mac
from gateway.crypto.age.scrypt import (
    DEFAULT_MAX_WORK_FACTOR,
    DEFAULT_WORK_FACTOR,
    ScryptIdentity,
    ScryptRecipient,
)
from gateway.crypto.age.stream import PayloadWriter, encrypt_payload, iter_payload
from gateway.crypto.age.x25519 import X25519Identity, X25519Recipient, parse_identity_file
from gateway.fsutil import atomic_output

__all__ = [
    "AgeError", "HeaderError", "HmacError", "NoMatchError", "PayloadError", "WorkFactorTooHigh",
    "ScryptIdentity", "ScryptRecipient", "X25519Identity", "X25519Recipient", "parse_identity_file",
    "DEFAULT_MAX_WORK_FACTOR", "DEFAULT_WORK_FACTOR",
    "Digest", "encrypt", "decrypt", "decrypt_chunks", "encrypt_file", "decrypt_file", "is_passphrase_file",
    "PayloadWriter", "header", "new_file_key",
]


class Recipient(Protocol):
    def wrap(self, file_key: bytes) -> list[Stanza]: ...


class Identity(Protocol):
    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None: ...


@dataclass(frozen=True)
class Digest:
    """SHA-256 and size of a plaintext, for manifests and receipts."""
    sha256: str
    size: int


class _Hashing:
    """Wraps a reader or a writer and hashes the plaintext flowing through it."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self._hash = hashlib.sha256()
        self._size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self._hash.update(data)
        self._size += len(data)
        return data

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self._size += len(data)
        return self._inner.write(data)

    def digest(self) -> Digest:
        return Digest(self._hash.hexdigest(), self._size)


def encrypt(src: BinaryIO, dst: BinaryIO, recipients: Sequence[Recipient]) -> None:
    file_key = new_file_key()
    dst.write(header(file_key, recipients))
    encrypt_payload(file_key, src, dst)


def new_file_key() -> bytes:
    return os.urandom(FILE_KEY_SIZE)


def header(file_key: bytes, recipients: Sequence[Recipient]) -> bytes:
    """The header of a file whose payload is encrypted under ``file_key`` (with encrypt_payload or
    a PayloadWriter): a file is ``header + payload``, so the payload may be written first, before
    the recipients' stanzas (a passphrase's scrypt derivation) are ready."""
    if not recipients:
        raise ValueError("at least one recipient is required")
    if len(recipients) > 1 and any(isinstance(r, ScryptRecipient) for r in recipients):
        raise ValueError("a passphrase recipient must be the only recipient")
    stanzas = [stanza for recipient in recipients for stanza in recipient.wrap(file_key)]
    return encode_header(stanzas, file_key)


def decrypt(src: BinaryIO, dst: BinaryIO, identities: Sequence[Identity]) -> None:
    """Writes plaintext to dst chunk by chunk, each only after it authenticates.

    On PayloadError dst holds the plaintext released before the failure; callers that must not
    keep partial output write through atomic_output (decrypt_file does).
    """
    for plain in decrypt_chunks(src, identities):
        dst.write(plain)


def decrypt_chunks(src: BinaryIO, identities: Sequence[Identity]) -> Iterator[bytes]:
    """The plaintext as authenticated chunks (see decrypt). The header is read, the file key
    unwrapped and the header MAC checked here, before returning; the payload's errors come from
    the iterator, at the chunk where the file goes wrong."""
    header = read_header(src)
    if any(s.type == "scrypt" for s in header.stanzas) and len(header.stanzas) != 1:
        raise HeaderError("an scrypt stanza must be the only stanza in the header")
    file_key = _unwrap(header.stanzas, identities)
    verify_mac(header, file_key)
    return iter_payload(file_key, src)


def _unwrap(stanzas: Sequence[Stanza], identities: Sequence[Identity]) -> bytes:
    for identity in identities:
        file_key = identity.unwrap(stanzas)
        if file_key is not None:
            return file_key
    raise NoMatchError("no identity matches any recipient stanza of the file")


def is_passphrase_file(path: str | os.PathLike[str]) -> bool:
    """Whether the file's header is a (well-formed) passphrase header."""
    with open(path, "rb") as src:
        header = read_header(src)
    return any(s.type == "scrypt" for s in header.stanzas)


def encrypt_file(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    passphrase: str | bytes | None = None,
    recipients: Sequence[Recipient] = (),
    work_factor: int = DEFAULT_WORK_FACTOR,
) -> Digest:
    """Encrypt in_path to out_path atomically; returns the plaintext's digest."""
    chosen = list(recipients)
    if passphrase is not None:
        chosen.append(ScryptRecipient(passphrase, work_factor))
    with open(in_path, "rb", buffering=0) as raw, atomic_output(out_path) as out:
        src = _Hashing(raw)
        encrypt(src, out, chosen)  # type: ignore[arg-type]
    return src.digest()


def decrypt_file(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    passphrase: str | bytes | None = None,
    identities: Sequence[Identity] = (),
    max_work_factor: int = DEFAULT_MAX_WORK_FACTOR,
) -> Digest:
    """Decrypt in_path to out_path; out_path exists afterwards only if the whole file authenticated."""
    chosen = list(identities)
    if passphrase is not None:
        chosen.append(ScryptIdentity(passphrase, max_work_factor))
    with open(in_path, "rb") as src, atomic_output(out_path) as out:
        dst = _Hashing(out)
        decrypt(src, dst, chosen)  # type: ignore[arg-type]
    return dst.digest()
