"""The scrypt passphrase recipient (C2SP age.md, "The scrypt recipient type")."""
from __future__ import annotations

import os
import re
from collections.abc import Sequence

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from gateway.crypto import memory_hard
from gateway.crypto.age.errors import HeaderError, WorkFactorTooHigh
from gateway.crypto.age.format import Stanza, b64decode, b64encode
from gateway.crypto.age.wrap import check_wrapped_size, unwrap_file_key, wrap_file_key
from gateway.crypto.background import Background

STANZA_TYPE = "scrypt"
LABEL = b"age-encryption.org/v1/scrypt"
SALT_SIZE = 16
DEFAULT_WORK_FACTOR = 18
# 2**20 costs about 4 s and 1 GiB here; anything above is refused before deriving (a file could
# otherwise make the gateway spend minutes and gigabytes on one decryption).
DEFAULT_MAX_WORK_FACTOR = 20
_DECIMAL = re.compile(r"[1-9][0-9]{0,1}\Z")


def _as_bytes(passphrase: str | bytes) -> bytes:
    data = passphrase.encode("utf-8") if isinstance(passphrase, str) else bytes(passphrase)
    if not data:
        raise ValueError("empty passphrase")
    return data


def _derive(passphrase: bytes, salt: bytes, work_factor: int) -> bytes:
    # Each derivation at work factor 18 holds 256 MiB and a core: at most one per core at once
    # (16 portal uploads at once reached 2.6 GB unbounded), shared with argon2 (memory_hard.py).
    with memory_hard.slot:
        return Scrypt(salt=LABEL + salt, length=32, n=1 << work_factor, r=8, p=1).derive(passphrase)


class ScryptRecipient:
    """Encrypt to a passphrase. repr never shows it."""

    def __init__(self, passphrase: str | bytes, work_factor: int = DEFAULT_WORK_FACTOR) -> None:
        if not 1 <= work_factor <= 30:
            raise ValueError("scrypt work factor must be between 1 and 30")
        self._passphrase = _as_bytes(passphrase)
        self.work_factor = work_factor
        self._ahead: tuple[bytes, Background[bytes]] | None = None

    def __repr__(self) -> str:
        return f"ScryptRecipient(work_factor={self.work_factor})"

    def derive_ahead(self) -> ScryptRecipient:
        """Start the derivation for the next wrap() now, in a thread, so that it overlaps other
        work (the derivation releases the GIL); wrap() waits for what is left of it. The salt is
        drawn now and used for that one wrap only."""
        salt = os.urandom(SALT_SIZE)
        self._ahead = (salt, Background(_derive, self._passphrase, salt, self.work_factor))
        return self

    def wrap(self, file_key: bytes) -> list[Stanza]:
        if self._ahead is not None:
            (salt, pending), self._ahead = self._ahead, None
            key = pending.result()
        else:
            salt = os.urandom(SALT_SIZE)
            key = _derive(self._passphrase, salt, self.work_factor)
        args = (b64encode(salt).decode("ascii"), str(self.work_factor))
        return [Stanza(STANZA_TYPE, args, wrap_file_key(key, file_key))]


class ScryptIdentity:
    """Decrypt with a passphrase, refusing work factors above max_work_factor."""

    def __init__(self, passphrase: str | bytes, max_work_factor: int = DEFAULT_MAX_WORK_FACTOR) -> None:
        if not 1 <= max_work_factor <= 30:
            raise ValueError("maximum scrypt work factor must be between 1 and 30")
        self._passphrase = _as_bytes(passphrase)
        self.max_work_factor = max_work_factor

    def __repr__(self) -> str:
        return f"ScryptIdentity(max_work_factor={self.max_work_factor})"

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue
            # The caller has already enforced that an scrypt stanza is the only one.
            salt, work_factor = self._parse(stanza)
            key = _derive(self._passphrase, salt, work_factor)
            return unwrap_file_key(key, stanza.body)
        return None

    def _parse(self, stanza: Stanza) -> tuple[bytes, int]:
        if len(stanza.args) != 2:
            raise HeaderError("scrypt stanza must have exactly two arguments")
        salt = b64decode(stanza.args[0].encode("ascii"))
        if len(salt) != SALT_SIZE:
            raise HeaderError("scrypt salt must be 16 bytes")
        text = stanza.args[1]
        if not _DECIMAL.match(text):
            raise HeaderError("scrypt work factor is not a canonical decimal number")
        work_factor = int(text)
        if work_factor > self.max_work_factor:
            raise WorkFactorTooHigh(
                f"scrypt work factor {work_factor} exceeds the allowed maximum {self.max_work_factor}"
            )
        check_wrapped_size(stanza.body)
        return salt, work_factor
