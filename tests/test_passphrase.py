"""Generated passphrases are strong, readable from paper, and stored only as an argon2id verifier."""
from __future__ import annotations

import math
import re

import pytest

from gateway.crypto import passphrase

CONFUSABLE = set("01OIL")


def test_shape_and_alphabet() -> None:
    for _ in range(50):
        text = passphrase.generate()
        assert re.fullmatch(r"[A-Z2-9]{5}(-[A-Z2-9]{5}){5}", text), text
        assert not CONFUSABLE & set(text.replace("-", ""))


def test_entropy_at_least_128_bits() -> None:
    assert len(set(passphrase.ALPHABET)) == len(passphrase.ALPHABET) == 30
    symbols = len(passphrase.generate().replace(passphrase.SEPARATOR, ""))
    assert symbols * math.log2(len(passphrase.ALPHABET)) >= 128
    assert passphrase.entropy_bits() >= 128
    with pytest.raises(ValueError):
        passphrase.generate(groups=2)


def test_uses_the_whole_alphabet_and_does_not_repeat() -> None:
    seen = [passphrase.generate() for _ in range(200)]
    assert len(set(seen)) == len(seen)
    assert set("".join(seen).replace("-", "")) == set(passphrase.ALPHABET)


def test_verifier_round_trip() -> None:
    secret = passphrase.generate()
    verifier = passphrase.make_verifier(secret)
    assert verifier.startswith("$argon2id$")
    assert secret not in verifier
    assert passphrase.check(verifier, secret)
    assert not passphrase.check(verifier, secret.lower())
    assert not passphrase.check(verifier, secret + "X")
    # Salted: the same passphrase gives a different verifier each time.
    assert passphrase.make_verifier(secret) != verifier


def test_malformed_verifier_and_empty_passphrase() -> None:
    with pytest.raises(ValueError):
        passphrase.check("not a verifier", "x")
    with pytest.raises(ValueError):
        passphrase.make_verifier("")


def test_canonical_reads_the_groups_however_they_were_typed():
    from gateway.crypto.passphrase import candidates, canonical, generate

    p = generate()
    for typed in (p, p.replace("-", " "), p.replace("-", ""), f"  {p.lower()}  ", p.replace("-", "\u3000")):
        assert canonical(typed) == p
    assert canonical("hello world") is None and canonical(p[:-1]) is None
    # A right passphrase costs one scrypt; only a non-canonical one is also tried as typed.
    assert candidates(p.encode()) == [p.encode()]
    assert candidates(p.replace("-", " ").encode()) == [p.encode(), p.replace("-", " ").encode()]
    assert candidates(b"\xff\xfe") == [b"\xff\xfe"]
