"""The X25519 recipient (C2SP age.md, "The X25519 recipient type"), for contractors' public keys."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from gateway.crypto.age import bech32
from gateway.crypto.age.errors import HeaderError
from gateway.crypto.age.format import Stanza, b64decode, b64encode, hkdf
from gateway.crypto.age.wrap import check_wrapped_size, unwrap_file_key, wrap_file_key

STANZA_TYPE = "X25519"
LABEL = b"age-encryption.org/v1/X25519"
RECIPIENT_HRP = "age"
IDENTITY_HRP = "age-secret-key-"
KEY_SIZE = 32


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _shared_secret(private: X25519PrivateKey, public: X25519PublicKey) -> bytes:
    try:
        secret = private.exchange(public)
    except ValueError:
        # cryptography refuses the all-zero result of a low-order point; the spec calls it malformed.
        raise HeaderError("X25519 share is a low-order point") from None
    if secret == bytes(KEY_SIZE):
        raise HeaderError("X25519 share is a low-order point")
    return secret


class X25519Recipient:
    def __init__(self, public_key: bytes) -> None:
        if len(public_key) != KEY_SIZE:
            raise ValueError("X25519 public key must be 32 bytes")
        self.public_key = public_key

    @classmethod
    def parse(cls, text: str) -> X25519Recipient:
        """An age1... recipient string."""
        try:
            hrp, data = bech32.decode(text.strip())
        except bech32.Bech32Error as err:
            raise ValueError(f"not an age X25519 recipient: {err}") from None
        if hrp != RECIPIENT_HRP or text.strip() != text.strip().lower() or len(data) != KEY_SIZE:
            raise ValueError("not an age X25519 recipient (expected age1...)")
        return cls(data)

    def __str__(self) -> str:
        return bech32.encode(RECIPIENT_HRP, self.public_key)

    def wrap(self, file_key: bytes) -> list[Stanza]:
        ephemeral = X25519PrivateKey.generate()
        share = _raw_public(ephemeral.public_key())
        secret = _shared_secret(ephemeral, X25519PublicKey.from_public_bytes(self.public_key))
        key = hkdf(secret, share + self.public_key, LABEL)
        return [Stanza(STANZA_TYPE, (b64encode(share).decode("ascii"),), wrap_file_key(key, file_key))]


class X25519Identity:
    """A secret key; repr and str never show it (use .encode() to write a key file)."""

    def __init__(self, private_key: X25519PrivateKey) -> None:
        self._private = private_key
        self._public = _raw_public(private_key.public_key())

    @classmethod
    def generate(cls) -> X25519Identity:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def parse(cls, text: str) -> X25519Identity:
        """An identity string as age-keygen writes it: the Bech32 of IDENTITY_HRP, in upper case."""
        text = text.strip()
        try:
            hrp, data = bech32.decode(text)
        except bech32.Bech32Error:
            raise ValueError("not an age X25519 identity") from None
        if hrp != IDENTITY_HRP or text != text.upper() or len(data) != KEY_SIZE:
            raise ValueError(f"not an age X25519 identity (expected {IDENTITY_HRP.upper()}1...)")
        return cls(X25519PrivateKey.from_private_bytes(data))

    def encode(self) -> str:
        raw = self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return bech32.encode(IDENTITY_HRP, raw).upper()

    def recipient(self) -> X25519Recipient:
        return X25519Recipient(self._public)

    def __repr__(self) -> str:
        return f"X25519Identity(recipient={self.recipient()})"

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue
            if len(stanza.args) != 1:
                raise HeaderError("X25519 stanza must have exactly one argument")
            share = b64decode(stanza.args[0].encode("ascii"))
            if len(share) != KEY_SIZE:
                raise HeaderError("X25519 share must be 32 bytes")
            check_wrapped_size(stanza.body)
            secret = _shared_secret(self._private, X25519PublicKey.from_public_bytes(share))
            file_key = unwrap_file_key(hkdf(secret, share + self._public, LABEL), stanza.body)
            if file_key is not None:
                return file_key
        return None


def parse_identity_file(text: str) -> list[X25519Identity]:
    """age-keygen's file format: comments starting with '#', blank lines, one key per line."""
    identities = [
        X25519Identity.parse(line)
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not identities:
        raise ValueError("no identities in key file")
    return identities


def recipients_from(lines: Iterable[str]) -> list[X25519Recipient]:
    return [X25519Recipient.parse(line) for line in lines if line.strip() and not line.startswith("#")]
