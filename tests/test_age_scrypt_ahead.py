"""A passphrase recipient whose scrypt derivation started ahead (send overlaps it with validating
the file) writes the same kind of file, opened by the `age` tool's rules, with a fresh salt each."""
from __future__ import annotations

import io
import os
import threading

import pytest

from gateway.crypto import age
from gateway.crypto.age.format import read_header
from gateway.crypto.background import Background

PASSPHRASE = "K7QM2-XR9TD-4HFJW-8PZNC-3VAYE-6GBKS"


def _encrypt(recipient: age.ScryptRecipient, plain: bytes) -> bytes:
    out = io.BytesIO()
    age.encrypt(io.BytesIO(plain), out, [recipient])
    return out.getvalue()


def _salt(package: bytes) -> str:
    (stanza,) = read_header(io.BytesIO(package)).stanzas
    return stanza.args[0]


def test_derived_ahead_decrypts_and_a_salt_serves_one_file_only() -> None:
    plain = os.urandom(3 * 65536 + 7)
    recipient = age.ScryptRecipient(PASSPHRASE, 10).derive_ahead()
    first = _encrypt(recipient, plain)
    second = _encrypt(recipient, plain)  # nothing derived ahead any more: derives afresh
    assert _salt(first) != _salt(second)
    for package in (first, second):
        out = io.BytesIO()
        age.decrypt(io.BytesIO(package), out, [age.ScryptIdentity(PASSPHRASE)])
        assert out.getvalue() == plain
    with pytest.raises(age.NoMatchError):
        age.decrypt(io.BytesIO(first), io.BytesIO(), [age.ScryptIdentity("WRONG-" + PASSPHRASE)])


def test_background_hands_over_the_error_and_runs_off_the_calling_thread() -> None:
    seen = []

    def fail() -> None:
        seen.append(threading.current_thread() is threading.main_thread())
        raise ValueError("derivation failed")

    task = Background(fail)
    with pytest.raises(ValueError, match="derivation failed"):
        task.result()
    assert seen == [False]


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 2 * 65536, 3 * 65536 + 11])
def test_payload_writer_writes_what_encrypt_payload_writes(size: int) -> None:
    from gateway.crypto.age.stream import PayloadWriter, encrypt_payload

    plain, key, nonce = os.urandom(size), os.urandom(16), os.urandom(16)
    expected = io.BytesIO()
    encrypt_payload(key, io.BytesIO(plain), expected, nonce=nonce)
    got = io.BytesIO()
    writer = PayloadWriter(key, got, nonce=nonce)
    buffer = bytearray(plain)
    at, cut = 0, 1
    while at < size:  # uneven writes, from a buffer overwritten after each (as BufferedWriter does)
        piece = memoryview(buffer)[at:at + cut]
        writer.write(piece)
        piece[:] = b"\0" * len(piece)
        at, cut = at + cut, cut * 3 + 1
    writer.finish()
    assert got.getvalue() == expected.getvalue()
    recipient = age.ScryptRecipient(PASSPHRASE, 10)
    package = age.header(key, [recipient]) + got.getvalue()
    out = io.BytesIO()
    age.decrypt(io.BytesIO(package), out, [age.ScryptIdentity(PASSPHRASE)])
    assert out.getvalue() == plain
