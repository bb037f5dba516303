"""STREAM payload and the library API: chunk boundaries, damage of each kind, constant memory."""
from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from pathlib import Path

import pytest

from gateway.crypto import age
from gateway.crypto.age import bech32
from gateway.crypto.age.format import read_header
from gateway.crypto.age.stream import CHUNK, ENC_CHUNK, NONCE_SIZE, TAG

SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 1, 3 * CHUNK]
IDENTITY = age.X25519Identity.generate()


def seal(data: bytes, recipients: list | None = None) -> bytes:
    out = io.BytesIO()
    age.encrypt(io.BytesIO(data), out, recipients or [IDENTITY.recipient()])
    return out.getvalue()


def open_(blob: bytes, identities: list | None = None) -> bytes:
    out = io.BytesIO()
    age.decrypt(io.BytesIO(blob), out, identities or [IDENTITY])
    return out.getvalue()


def payload_offset(blob: bytes) -> int:
    src = io.BytesIO(blob)
    read_header(src)
    return src.tell() + NONCE_SIZE


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_and_chunk_layout(size: int) -> None:
    data = os.urandom(size)
    blob = seal(data)
    assert open_(blob) == data
    full, rest = divmod(size, CHUNK)
    # A full last chunk is the final one; an empty final chunk only when the payload is empty.
    chunks = max(1, full + (1 if rest else 0))
    assert len(blob) - payload_offset(blob) == size + chunks * TAG


def test_scrypt_round_trip_and_stanza() -> None:
    blob = seal(b"resident data", [age.ScryptRecipient("correct horse", work_factor=10)])
    header = read_header(io.BytesIO(blob))
    (stanza,) = header.stanzas
    assert stanza.type == "scrypt" and stanza.args[1] == "10" and len(stanza.body) == 32
    assert open_(blob, [age.ScryptIdentity("correct horse")]) == b"resident data"
    with pytest.raises(age.NoMatchError):
        open_(blob, [age.ScryptIdentity("wrong horse")])


def test_work_factor_cap_is_enforced_before_deriving() -> None:
    blob = seal(b"x", [age.ScryptRecipient("pw", work_factor=12)])
    with pytest.raises(age.WorkFactorTooHigh):
        open_(blob, [age.ScryptIdentity("pw", max_work_factor=11)])
    assert open_(blob, [age.ScryptIdentity("pw", max_work_factor=12)]) == b"x"


def test_scrypt_recipient_must_be_alone() -> None:
    with pytest.raises(ValueError):
        seal(b"x", [age.ScryptRecipient("pw", work_factor=10), IDENTITY.recipient()])


def test_multiple_x25519_recipients() -> None:
    other = age.X25519Identity.generate()
    blob = seal(b"both", [IDENTITY.recipient(), other.recipient()])
    assert open_(blob, [other]) == b"both"
    with pytest.raises(age.NoMatchError):
        open_(blob, [age.X25519Identity.generate()])


class Trickle:
    """A reader that returns at most a few bytes per read, like a pipe or a socket."""

    def __init__(self, data: bytes, step: int = 1000) -> None:
        self._src = io.BytesIO(data)
        self._step = step

    def read(self, size: int = -1) -> bytes:
        return self._src.read(min(self._step, size if size >= 0 else self._step))

    def readline(self, size: int = -1) -> bytes:
        return self._src.readline(size)


def test_short_reads_are_handled() -> None:
    data = os.urandom(2 * CHUNK + 7)
    out = io.BytesIO()
    age.encrypt(Trickle(data), out, [IDENTITY.recipient()])  # type: ignore[arg-type]
    plain = io.BytesIO()
    age.decrypt(Trickle(out.getvalue()), plain, [IDENTITY])  # type: ignore[arg-type]
    assert plain.getvalue() == data


def three_chunk_file() -> tuple[bytes, bytes, int]:
    data = os.urandom(2 * CHUNK + 100)
    blob = seal(data)
    return data, blob, payload_offset(blob)


def test_flipped_payload_byte() -> None:
    _, blob, start = three_chunk_file()
    damaged = bytearray(blob)
    damaged[start + ENC_CHUNK + 10] ^= 1
    with pytest.raises(age.PayloadError, match="chunk 1"):
        open_(bytes(damaged))


@pytest.mark.parametrize("where", ["boundary", "mid-chunk", "nonce-only", "tag-only"])
def test_truncation(where: str) -> None:
    _, blob, start = three_chunk_file()
    cut = {"boundary": start + 2 * ENC_CHUNK, "mid-chunk": start + ENC_CHUNK + 500,
           "nonce-only": start, "tag-only": start + ENC_CHUNK + TAG}[where]
    with pytest.raises(age.PayloadError):
        open_(blob[:cut])


def test_truncated_nonce_is_a_header_failure() -> None:
    _, blob, start = three_chunk_file()
    with pytest.raises(age.HeaderError):
        open_(blob[: start - 3])


@pytest.mark.parametrize("size", [100, CHUNK, 2 * CHUNK])
@pytest.mark.parametrize("extra", [1, TAG, ENC_CHUNK + 5])
def test_extension(size: int, extra: int) -> None:
    blob = seal(os.urandom(size)) + os.urandom(extra)
    with pytest.raises(age.PayloadError):
        open_(blob)


def test_reordered_chunks() -> None:
    _, blob, start = three_chunk_file()
    first, second = blob[start:start + ENC_CHUNK], blob[start + ENC_CHUNK:start + 2 * ENC_CHUNK]
    swapped = blob[:start] + second + first + blob[start + 2 * ENC_CHUNK:]
    with pytest.raises(age.PayloadError, match="chunk 0"):
        open_(swapped)


def test_dropped_middle_chunk() -> None:
    _, blob, start = three_chunk_file()
    with pytest.raises(age.PayloadError):
        open_(blob[:start + ENC_CHUNK] + blob[start + 2 * ENC_CHUNK:])


def test_header_mac_flip_is_hmac_failure() -> None:
    blob = bytearray(seal(b"data"))
    mac_at = blob.index(b"\n--- ") + 5
    blob[mac_at] = ord("A") if blob[mac_at] != ord("A") else ord("B")
    with pytest.raises(age.HmacError):
        open_(bytes(blob))


class Zeros:
    """A source of `total` zero bytes that never holds them all."""

    def __init__(self, total: int) -> None:
        self.left = total

    def read(self, size: int = -1) -> bytes:
        n = min(size, self.left)
        self.left -= n
        return bytes(n)


class Sink:
    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        return len(data)


def test_memory_does_not_grow_with_size(tmp_path: Path) -> None:
    total = 32 * 1024 * 1024
    cipher = tmp_path / "big.age"
    tracemalloc.start()
    try:
        with cipher.open("wb") as out:
            age.encrypt(Zeros(total), out, [IDENTITY.recipient()])  # type: ignore[arg-type]
        _, enc_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        sink = Sink()
        with cipher.open("rb") as src:
            age.decrypt(src, sink, [IDENTITY])  # type: ignore[arg-type]
        _, dec_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.size == total
    assert sink.hash.hexdigest() == hashlib.sha256(bytes(total)).hexdigest()
    assert enc_peak < 1024 * 1024 and dec_peak < 1024 * 1024, (enc_peak, dec_peak)


def test_file_helpers_are_atomic_and_private(tmp_path: Path) -> None:
    plain = tmp_path / "in.csv"
    plain.write_bytes(b"a,b\n1,2\n")
    enc = tmp_path / "in.csv.age"
    digest = age.encrypt_file(plain, enc, recipients=[IDENTITY.recipient()])
    assert digest == age.Digest(hashlib.sha256(plain.read_bytes()).hexdigest(), 8)
    assert enc.stat().st_mode & 0o777 == 0o600
    out = tmp_path / "out.csv"
    assert age.decrypt_file(enc, out, identities=[IDENTITY]) == digest
    assert out.read_bytes() == plain.read_bytes() and out.stat().st_mode & 0o777 == 0o600
    damaged = bytearray(enc.read_bytes())
    damaged[-1] ^= 1
    enc.write_bytes(bytes(damaged))
    with pytest.raises(age.PayloadError):
        age.decrypt_file(enc, tmp_path / "again.csv", identities=[IDENTITY])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "in.csv.age", "out.csv"]


def test_bech32_keys() -> None:
    text = str(IDENTITY.recipient())
    assert text.startswith("age1")
    assert age.X25519Recipient.parse(text).public_key == IDENTITY.recipient().public_key
    secret = IDENTITY.encode()
    assert secret.startswith("AGE-SECRET-KEY-1") and secret not in repr(IDENTITY)
    assert age.X25519Identity.parse(secret).recipient().public_key == IDENTITY.recipient().public_key
    for bad in [text.upper(), text[:-1] + ("q" if text[-1] != "q" else "p"), text[:10] + text[10:].upper(),
                secret.lower(), "age1"]:
        with pytest.raises(ValueError):
            (age.X25519Recipient if bad.lower().startswith("age1") else age.X25519Identity).parse(bad)
    with pytest.raises(bech32.Bech32Error):
        bech32.decode("AgE1qqqqqqqq")


def test_repr_hides_secrets() -> None:
    assert "hunter2" not in repr(age.ScryptRecipient("hunter2", 10))
    assert "hunter2" not in repr(age.ScryptIdentity("hunter2"))
