"""The key-encryption keys (KEKs) that wrap each blob's data key, in generations.

A data key is stored only wrapped: `nonce (12) || AES-256-GCM(KEK, data key, aad=blob id)`. The
KEK comes in numbered generations; the database names, for each wrapped key, the generation and
the backend that holds it (a file under `keys/kek/`, or an object in a PKCS#11 token). Rotating
re-wraps every live data key under a new generation and then destroys the old one, so a wrapped
key that survives its erasure somewhere (a SQLite free page or WAL frame, a PostgreSQL dead row
or WAL segment, a database backup) is under a key that no longer exists.

This package only holds and uses the keys; which generation is current, and the rotation
itself, live with the database (`gateway.kek_rotation`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from gateway.crypto.kek.config import KekConfig
from gateway.crypto.kek.errors import KekGenerationGone, KekUnavailable, WrongKek
from gateway.crypto.kek.files import FileKeks

NONCE_BYTES = 12
__all__ = ["Keyring", "KekBackend", "KekUnavailable", "KekGenerationGone", "WrongKek", "NONCE_BYTES"]


class KekBackend(Protocol):
    name: str

    def create(self, generation: int) -> None:
        """Make the generation's key durable; adopt one a crashed rotation left (same number)."""

    def present(self) -> set[int]:
        """The generations whose key material exists."""

    def encrypt(self, generation: int, nonce: bytes, data: bytes, aad: bytes) -> bytes: ...

    def decrypt(self, generation: int, nonce: bytes, data: bytes, aad: bytes) -> bytes: ...

    def destroy(self, generation: int) -> None:
        """Destroy the generation's key; a generation already gone is not an error."""


class Keyring:
    """Every configured KEK backend, and which one new generations go to."""

    def __init__(self, keys_root: Path, config: KekConfig) -> None:
        self.config = config
        self._backends: dict[str, KekBackend] = {"file": FileKeks(keys_root / "kek")}
        if config.backend == "pkcs11":
            # Loaded only when configured: it loads the token's C library.
            from gateway.crypto.kek.token import TokenKeks

            self._backends["pkcs11"] = TokenKeks(config)

    @property
    def default_backend(self) -> str:
        return self.config.backend

    def backend(self, name: str) -> KekBackend:
        try:
            return self._backends[name]
        except KeyError:
            raise KekUnavailable(
                f"鍵暗号化鍵が {name} にありますが、gateway.toml の [kek] で {name} が設定されていません。",
                f"a key-encryption key is held by {name}, which gateway.toml's [kek] does not configure.",
            ) from None

    def configured(self) -> dict[str, KekBackend]:
        return dict(self._backends)

    def wrap(self, backend: str, generation: int, data_key: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self.backend(backend).encrypt(generation, nonce, data_key, aad)

    def unwrap(self, backend: str, generation: int, wrapped: bytes, aad: bytes) -> bytes:
        return self.backend(backend).decrypt(generation, wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
