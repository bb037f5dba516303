"""Every C2SP CCTV age vector for what we implement gives exactly its expected result and payload.

Vectors for ML-KEM hybrid recipients and ASCII armor are skipped by name: we implement neither.
"""
from __future__ import annotations

import hashlib
import io
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gateway.crypto import age
from gateway.crypto.age.format import encode_header, read_header
from gateway.crypto.age.stream import NONCE_SIZE, encrypt_payload

TESTKIT = Path(__file__).parent / "testkit" / "age"
VECTORS = sorted(p for p in TESTKIT.iterdir() if p.is_file() and not p.name.endswith(".md"))

EXPECTED_ERROR: dict[str, type[age.AgeError]] = {
    "header failure": age.HeaderError,
    "no match": age.NoMatchError,
    "HMAC failure": age.HmacError,
    "payload failure": age.PayloadError,
}


@dataclass
class Vector:
    expect: str
    payload: str | None = None
    passphrases: list[str] = field(default_factory=list)
    identities: list[str] = field(default_factory=list)
    armored: bool = False
    compressed: bool = False
    file_key: str | None = None
    body: bytes = b""


def load(path: Path) -> Vector:
    raw = path.read_bytes()
    text, _, body = raw.partition(b"\n\n")
    vector = Vector(expect="")
    for line in text.decode("utf-8").split("\n"):
        key, _, value = line.partition(": ")
        if key == "expect":
            vector.expect = value
        elif key == "payload":
            vector.payload = value
        elif key == "passphrase":
            vector.passphrases.append(value)
        elif key == "identity":
            vector.identities.append(value)
        elif key == "armored":
            vector.armored = value == "yes"
        elif key == "compressed":
            assert value == "zlib", value
            vector.compressed = True
        elif key == "file key":
            vector.file_key = value
    vector.body = zlib.decompress(body) if vector.compressed else body
    return vector


def identities_of(vector: Vector) -> list[age.ScryptIdentity | age.X25519Identity]:
    found: list[age.ScryptIdentity | age.X25519Identity] = [age.ScryptIdentity(p) for p in vector.passphrases]
    found += [age.X25519Identity.parse(i) for i in vector.identities]
    return found


def skip_reason(path: Path, vector: Vector) -> str | None:
    if path.name.startswith("hybrid") or any(i.startswith("AGE-SECRET-KEY-PQ-") for i in vector.identities):
        return "ML-KEM hybrid recipients are not implemented"
    if path.name.startswith("armor") or vector.armored:
        return "ASCII armor is not implemented"
    return None


@pytest.mark.parametrize("path", VECTORS, ids=[p.name for p in VECTORS])
def test_vector(path: Path) -> None:
    vector = load(path)
    reason = skip_reason(path, vector)
    if reason:
        pytest.skip(reason)
    out = io.BytesIO()
    if vector.expect == "success":
        age.decrypt(io.BytesIO(vector.body), out, identities_of(vector))
    else:
        with pytest.raises(EXPECTED_ERROR[vector.expect]) as caught:
            age.decrypt(io.BytesIO(vector.body), out, identities_of(vector))
        others = [cls for name, cls in EXPECTED_ERROR.items() if name != vector.expect]
        assert not isinstance(caught.value, tuple(others)), "one category must not pass for another"
    if vector.payload is not None:
        assert hashlib.sha256(out.getvalue()).hexdigest() == vector.payload


@pytest.mark.parametrize("path", VECTORS, ids=[p.name for p in VECTORS])
def test_header_round_trip(path: Path) -> None:
    """Any vector whose header parses re-encodes to the same bytes (README.upstream.md)."""
    vector = load(path)
    if skip_reason(path, vector):
        pytest.skip(skip_reason(path, vector))
    if vector.expect == "header failure" or vector.file_key is None:
        pytest.skip("a header failure vector (or one without a file key) has no header to re-encode")
    src = io.BytesIO(vector.body)
    try:
        header = read_header(src)
    except age.HeaderError:
        # Some header failures of the vectors are only detected after parsing (e.g. a short nonce).
        pytest.fail("header of a vector that is not a header failure must parse")
    encoded = encode_header(list(header.stanzas), bytes.fromhex(vector.file_key))
    if vector.expect != "HMAC failure":
        assert encoded == vector.body[: src.tell()]
    else:
        assert encoded[:-45] == vector.body[: src.tell() - 45]


@pytest.mark.parametrize("path", VECTORS, ids=[p.name for p in VECTORS])
def test_stream_round_trip(path: Path) -> None:
    """Re-encrypting a success vector's payload with its file key and nonce gives the same bytes."""
    vector = load(path)
    if skip_reason(path, vector):
        pytest.skip(skip_reason(path, vector))
    if vector.expect != "success" or vector.file_key is None:
        pytest.skip("only success vectors have a payload to re-encrypt")
    src = io.BytesIO(vector.body)
    read_header(src)
    start = src.tell()
    plain = io.BytesIO()
    age.decrypt(io.BytesIO(vector.body), plain, identities_of(vector))
    again = io.BytesIO()
    nonce = vector.body[start:start + NONCE_SIZE]
    encrypt_payload(bytes.fromhex(vector.file_key), io.BytesIO(plain.getvalue()), again, nonce=nonce)
    assert again.getvalue() == vector.body[start:]
