"""Package passphrases: generated for reading off paper and typing, kept only as an argon2id verifier.

The alphabet is Crockford's base32 without 0 and 1 (and so without O, I, L, U, which Crockford
already drops): no two characters are easily confused on a printed password notice. Six groups of
five characters from 30 symbols carry 30 * log2(30) ≈ 147 bits, above the 128 bits we require.
"""
from __future__ import annotations

import math
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
GROUP_SIZE = 5
GROUPS = 6
SEPARATOR = "-"
MIN_ENTROPY_BITS = 128

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory defaults


def entropy_bits(groups: int = GROUPS, group_size: int = GROUP_SIZE) -> float:
    return groups * group_size * math.log2(len(ALPHABET))


def generate(groups: int = GROUPS, group_size: int = GROUP_SIZE) -> str:
    """A fresh passphrase such as 'K7QM2-XR9TD-...'; at least 128 bits from the OS CSPRNG."""
    if entropy_bits(groups, group_size) < MIN_ENTROPY_BITS:
        raise ValueError("passphrase would carry fewer than 128 bits of entropy")
    return SEPARATOR.join(
        "".join(secrets.choice(ALPHABET) for _ in range(group_size)) for _ in range(groups)
    )


def make_verifier(passphrase: str) -> str:
    """An argon2id hash string (salted, self-describing) to store instead of the passphrase."""
    if not passphrase:
        raise ValueError("empty passphrase")
    return _hasher.hash(passphrase)


def check(verifier: str, passphrase: str) -> bool:
    """True if passphrase matches; False on mismatch. A malformed verifier is a data error and raises."""
    try:
        return _hasher.verify(verifier, passphrase)
    except InvalidHashError:
        raise ValueError("stored passphrase verifier is malformed") from None
    except VerificationError:
        return False
