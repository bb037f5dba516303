"""Package passphrases: generated for reading off paper and typing, kept only as an argon2id verifier.

The alphabet is Crockford's base32 without 0 and 1 (and so without O, I, L, U, which Crockford
already drops): no two characters are easily confused on a printed password notice. Six groups of
five characters from 30 symbols carry 30 * log2(30) ≈ 147 bits, above the 128 bits we require.
"""
from __future__ import annotations

import math
import re
import secrets
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gateway.crypto import memory_hard
from gateway.crypto.age.format import Stanza
from gateway.crypto.age.scrypt import ScryptIdentity

if TYPE_CHECKING:
    from argon2 import PasswordHasher

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
GROUP_SIZE = 5
GROUPS = 6
SEPARATOR = "-"
MIN_ENTROPY_BITS = 128


def _hasher() -> PasswordHasher:
    # argon2id with the library's RFC 9106 low-memory defaults. Imported when a verifier is made
    # or checked: `gateway package decrypt`, the contractor's command, needs none of it.
    from argon2 import PasswordHasher

    return PasswordHasher()


def entropy_bits(groups: int = GROUPS, group_size: int = GROUP_SIZE) -> float:
    return groups * group_size * math.log2(len(ALPHABET))


def generate(groups: int = GROUPS, group_size: int = GROUP_SIZE) -> str:
    """A fresh passphrase such as 'K7QM2-XR9TD-...'; at least 128 bits from the OS CSPRNG."""
    if entropy_bits(groups, group_size) < MIN_ENTROPY_BITS:
        raise ValueError("passphrase would carry fewer than 128 bits of entropy")
    return SEPARATOR.join(
        "".join(secrets.choice(ALPHABET) for _ in range(group_size)) for _ in range(groups)
    )


# What a person types between groups when copying the notice: spaces (also the ideographic space
# of a Japanese IME), hyphens and the dashes an IME substitutes for them, and the katakana long
# vowel mark, which a Japanese keyboard gives for the hyphen key in kana mode.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc\uff0d]+")


def canonical(typed: str) -> str | None:
    """The generated passphrase that `typed` stands for, or None if it cannot be one.

    A contractor copies the notice by hand: with the hyphens, with spaces, or run together, in
    either case, in full-width characters from an IME. All of these mean the same passphrase, and
    the package was encrypted under its hyphenated form (what `age -d` needs typed exactly)."""
    compact = _SEPARATORS.sub("", unicodedata.normalize("NFKC", typed)).upper()
    if len(compact) != GROUPS * GROUP_SIZE or not all(c in ALPHABET for c in compact):
        return None
    return SEPARATOR.join(compact[i:i + GROUP_SIZE] for i in range(0, len(compact), GROUP_SIZE))


def candidates(typed: bytes) -> list[bytes]:
    """What to try to decrypt with, in order: the generated passphrase `typed` stands for, then
    `typed` itself (a passphrase someone chose for `package encrypt` is taken exactly as given).
    Only a wrong passphrase costs a second scrypt: a right one matches the first candidate."""
    try:
        meant = canonical(typed.decode("utf-8"))
    except UnicodeDecodeError:
        meant = None
    if meant is None or meant.encode("ascii") == typed:
        return [typed]
    return [meant.encode("ascii"), typed]


def make_verifier(passphrase: str) -> str:
    """An argon2id hash string (salted, self-describing) to store instead of the passphrase."""
    if not passphrase:
        raise ValueError("empty passphrase")
    hasher = _hasher()
    with memory_hard.slot:  # 64 MiB each: sixteen sends at once must not hold a gigabyte of them
        return hasher.hash(passphrase)


def check(verifier: str, passphrase: str) -> bool:
    """True if passphrase matches; False on mismatch. A malformed verifier is a data error and raises."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(verifier, passphrase)
    except InvalidHashError:
        raise ValueError("stored passphrase verifier is malformed") from None
    except VerificationError:
        return False


class TypedPassphrase:
    """An age identity for a passphrase as a person typed it (see `candidates`): used by every
    decrypt of ours, so that hyphens, spaces or none at all open the same package."""

    def __init__(self, typed: bytes, max_work_factor: int) -> None:
        self._identities = [ScryptIdentity(c, max_work_factor) for c in candidates(typed)]

    def __repr__(self) -> str:  # never the passphrase
        return f"TypedPassphrase(candidates={len(self._identities)})"

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        for identity in self._identities:
            file_key = identity.unwrap(stanzas)
            if file_key is not None:
                return file_key
        return None
