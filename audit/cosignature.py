"""tlog-cosignature/v1 (c2sp.org/tlog-cosignature): a witness's timestamped Ed25519 note signature.

The signature is `u64 big-endian timestamp || Ed25519(cosignature/v1\\ntime <t>\\n || note text)`
with key id SHA-256(name || 0x0A || 0x04 || public key)[:4]. Verification is in `audit.note`
(signature type 0x04); this module is the signing side the witness uses, and the helpers that read
a cosignature's timestamp.
"""
from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.note import (
    MAX_TIMESTAMP,
    SIG_COSIGNATURE_V1,
    Ed25519Signer,
    NoteError,
    NoteSignature,
    VerifierKey,
    cosignature_message,
    key_id,
    verifier_key,
)


@dataclass(frozen=True)
class Cosigner:
    """Signs checkpoints as a witness; `timestamp` is the real time of signing, in POSIX seconds."""
    name: str
    private: Ed25519PrivateKey

    @classmethod
    def from_signer(cls, signer: Ed25519Signer) -> Cosigner:
        # The key file holds a Go-style type 0x01 private key string, as transparency-dev's
        # NewSignerForCosignatureV1 reads one; the witness signs with it as type 0x04.
        return cls(signer.name, signer.private)

    @property
    def public(self) -> bytes:
        return self.private.public_key().public_bytes_raw()

    @property
    def key_id(self) -> int:
        return key_id(self.name, SIG_COSIGNATURE_V1, self.public)

    @property
    def verifier(self) -> VerifierKey:
        return verifier_key(self.name, SIG_COSIGNATURE_V1, self.public)

    def cosign(self, text: bytes, timestamp: int) -> NoteSignature:
        if not 0 <= timestamp <= MAX_TIMESTAMP:
            raise NoteError("a cosignature's timestamp is between 0 and 2^63-1")
        signature = self.private.sign(cosignature_message(text, timestamp))
        return NoteSignature(self.name, self.key_id, timestamp.to_bytes(8, "big") + signature)


def cosignature_timestamp(signature: NoteSignature) -> int:
    """The time a cosignature states (not verified here: audit.note.verify does that)."""
    if len(signature.signature) != 8 + 64:
        raise NoteError("not a cosignature/v1 signature (8-byte time and 64-byte Ed25519 signature)")
    timestamp = int.from_bytes(signature.signature[:8], "big")
    if timestamp > MAX_TIMESTAMP:
        raise NoteError("the cosignature's timestamp exceeds 2^63-1")
    return timestamp
