"""Wrapping the 16-byte file key under a derived key: ChaCha20-Poly1305 with a zero nonce.

The zero nonce is safe because every wrap key is fresh (random salt or ephemeral share).
"""
from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from gateway.crypto.age.errors import HeaderError
from gateway.crypto.age.format import FILE_KEY_SIZE

WRAPPED_SIZE = FILE_KEY_SIZE + 16
_ZERO_NONCE = bytes(12)


def wrap_file_key(key: bytes, file_key: bytes) -> bytes:
    return ChaCha20Poly1305(key).encrypt(_ZERO_NONCE, file_key, None)


def check_wrapped_size(body: bytes) -> None:
    # Checked before any expensive derivation so a malformed stanza costs nothing.
    if len(body) != WRAPPED_SIZE:
        raise HeaderError("stanza body has the wrong length for a wrapped file key")


def unwrap_file_key(key: bytes, body: bytes) -> bytes | None:
    """The file key, or None when this key does not open the stanza."""
    try:
        return ChaCha20Poly1305(key).decrypt(_ZERO_NONCE, body, None)
    except InvalidTag:
        return None
