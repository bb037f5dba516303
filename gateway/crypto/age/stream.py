"""The age payload: STREAM over ChaCha20-Poly1305 in 64 KiB chunks (C2SP age.md, "Payload").

Both directions hold at most two chunks in memory. Decryption writes a chunk only after it has
authenticated, so a caller that discards its output on error never keeps unauthenticated bytes.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from gateway.crypto.age.errors import HeaderError, PayloadError
from gateway.crypto.age.format import hkdf

CHUNK = 64 * 1024
TAG = 16
ENC_CHUNK = CHUNK + TAG
NONCE_SIZE = 16
_MAX_COUNTER = 2 ** 88 - 1


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    return hkdf(file_key, nonce, b"payload")


def _chunk_nonce(counter: int, last: bool) -> bytes:
    if counter > _MAX_COUNTER:
        raise PayloadError("payload too long: STREAM counter overflow")
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def read_full(src: BinaryIO, size: int) -> bytes:
    """Up to size bytes, fewer only at end of file (pipes and sockets return short reads)."""
    data = src.read(size)
    if data is None or len(data) == size or not data:
        return data or b""
    parts = [data]
    got = len(data)
    while got < size:
        more = src.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def encrypt_payload(file_key: bytes, src: BinaryIO, dst: BinaryIO, nonce: bytes | None = None) -> None:
    """nonce is for reproducing known files in tests; leave it None to draw a fresh one."""
    nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
    if len(nonce) != NONCE_SIZE:
        raise ValueError("payload nonce must be 16 bytes")
    dst.write(nonce)
    aead = ChaCha20Poly1305(payload_key(file_key, nonce))
    counter = 0
    chunk = read_full(src, CHUNK)
    while True:
        # Look one chunk ahead: a full chunk at end of input is the last one, and an empty final
        # chunk is written only when the whole payload is empty.
        following = read_full(src, CHUNK) if len(chunk) == CHUNK else b""
        last = not following
        dst.write(aead.encrypt(_chunk_nonce(counter, last), chunk, None))
        if last:
            return
        chunk = following
        counter += 1


class PayloadWriter:
    """``encrypt_payload`` for a producer that writes (a CSV writer) rather than one that is read:
    the same bytes for the same key, nonce and plaintext, however the writes are cut. A full
    chunk is held back until more data follows, since only then is it known not to be the last;
    finish() writes the final chunk. Holds one chunk besides what a single write() passes. Not an
    io object on purpose: one being collected would close, and so finish, a file cut short."""

    def __init__(self, file_key: bytes, dst: BinaryIO, nonce: bytes | None = None) -> None:
        nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
        if len(nonce) != NONCE_SIZE:
            raise ValueError("payload nonce must be 16 bytes")
        dst.write(nonce)
        self._dst = dst
        self._aead = ChaCha20Poly1305(payload_key(file_key, nonce))
        self._counter = 0
        self._pending = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._pending += data  # a copy: a BufferedWriter reuses the buffer it passes
        while len(self._pending) > CHUNK:
            chunk = bytes(self._pending[:CHUNK])
            del self._pending[:CHUNK]
            self._dst.write(self._aead.encrypt(_chunk_nonce(self._counter, False), chunk, None))
            self._counter += 1
        return len(data)

    def finish(self) -> None:
        # Empty only when the whole payload is: then the one, empty, final chunk.
        self._dst.write(self._aead.encrypt(_chunk_nonce(self._counter, True), bytes(self._pending), None))
        self._pending.clear()


def decrypt_payload(file_key: bytes, src: BinaryIO, dst: BinaryIO) -> None:
    for plain in iter_payload(file_key, src):
        dst.write(plain)


def iter_payload(file_key: bytes, src: BinaryIO) -> Iterator[bytes]:
    """The plaintext chunk by chunk, each yielded only after it authenticated; errors are raised
    where the file goes wrong, after the chunks before it. Lets a caller read the plaintext as a
    stream (count records while decrypting) instead of writing it out and reading it back."""
    nonce = read_full(src, NONCE_SIZE)
    if len(nonce) != NONCE_SIZE:
        # Part of the header in the reference implementation's error taxonomy.
        raise HeaderError("file ends before the payload nonce")
    aead = ChaCha20Poly1305(payload_key(file_key, nonce))
    counter = 0
    chunk = read_full(src, ENC_CHUNK)
    while True:
        if len(chunk) < TAG:
            raise PayloadError(f"payload truncated: chunk {counter} is missing or too short")
        if len(chunk) < ENC_CHUNK:
            # A short chunk can only be the final one.
            if counter > 0 and len(chunk) == TAG:
                raise PayloadError(f"payload chunk {counter} is an empty final chunk, which is not allowed")
            yield _open(aead, counter, True, chunk)
            return
        # A full chunk may be a middle chunk or a full final one: only the flag in the nonce tells.
        following = read_full(src, ENC_CHUNK)
        plain, last = _open_full(aead, counter, chunk, expect_last=not following)
        yield plain
        if last and following:
            raise PayloadError(f"trailing data after the final payload chunk {counter}")
        if not last and not following:
            raise PayloadError(f"payload truncated after chunk {counter}: the final chunk is missing")
        if last:
            return
        chunk = following
        counter += 1


def _open(aead: ChaCha20Poly1305, counter: int, last: bool, chunk: bytes) -> bytes:
    try:
        return aead.decrypt(_chunk_nonce(counter, last), chunk, None)
    except InvalidTag:
        raise PayloadError(
            f"payload chunk {counter} failed authentication (damaged, reordered or truncated file)"
        ) from None


def _open_full(aead: ChaCha20Poly1305, counter: int, chunk: bytes, expect_last: bool) -> tuple[bytes, bool]:
    """Try the likely flag first; the other one succeeding means truncation or trailing data.

    Either way the chunk authenticated and is released before the error, as the reference
    implementation does (the CCTV vectors check the released plaintext).
    """
    try:
        return aead.decrypt(_chunk_nonce(counter, expect_last), chunk, None), expect_last
    except InvalidTag:
        return _open(aead, counter, not expect_last, chunk), not expect_last
