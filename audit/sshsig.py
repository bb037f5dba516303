"""Checking OpenSSH SSHSIG signatures (PROTOCOL.sshsig), the auditor's own reading of the format.

The auditor never imports the gateway, so it does not reuse the gateway's signer: a mistake made
once in the gateway must not be made again, unseen, by the party that checks it. This module only
verifies, from the armored text alone:

    blob   = "SSHSIG" | uint32 version (1) | string public key | string namespace | string reserved
             | string hash algorithm ("sha256" or "sha512") | string signature
    signed = "SSHSIG" | string namespace | string "" | string hash algorithm | string H(message)

The signature is the key type's SSH signature over `signed`: Ed25519, ECDSA (P-256/384/521 with
SHA-256/384/512), or RSA PKCS#1 v1.5 named rsa-sha2-256/rsa-sha2-512 (`ssh-rsa`, SHA-1, is refused,
as OpenSSH's own verifier refuses it). Input comes from an untrusted bundle: every length is checked
against what remains, and nothing here raises anything but SshsigError.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

ARMOR_CAP = 16 * 1024
_HEADER = "-----BEGIN SSH SIGNATURE-----"
_FOOTER = "-----END SSH SIGNATURE-----"
_DIGESTS = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}
_ECDSA_HASH: dict[str, hashes.HashAlgorithm] = {"ecdsa-sha2-nistp256": hashes.SHA256(),
                                                "ecdsa-sha2-nistp384": hashes.SHA384(),
                                                "ecdsa-sha2-nistp521": hashes.SHA512()}
_RSA_HASH: dict[str, hashes.HashAlgorithm] = {"rsa-sha2-256": hashes.SHA256(), "rsa-sha2-512": hashes.SHA512()}


class SshsigError(Exception):
    """`problem` is one of: malformed, namespace, unsupported, bad-signature."""

    def __init__(self, problem: str, detail: str) -> None:
        super().__init__(f"{problem}: {detail}")
        self.problem = problem
        self.detail = detail


@dataclass(frozen=True)
class Verified:
    public_key: bytes  # SSH wire form

    @property
    def fingerprint(self) -> str:
        digest = base64.b64encode(hashlib.sha256(self.public_key).digest()).decode("ascii")
        return "SHA256:" + digest.rstrip("=")

    @property
    def openssh(self) -> str:
        return f"{_Cursor(self.public_key).name()} {base64.b64encode(self.public_key).decode('ascii')}"


class _Cursor:
    """Reads RFC 4251 values, each length checked against what is left."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise SshsigError("malformed", "a length runs past the end of the data")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def uint32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def string(self) -> bytes:
        return self.take(self.uint32())

    def name(self) -> str:
        raw = self.string()
        if not raw or any(b < 0x21 or b > 0x7e for b in raw):
            raise SshsigError("malformed", "a name is empty or not printable ASCII")
        return raw.decode("ascii")

    def finished(self) -> None:
        if self.pos != len(self.data):
            raise SshsigError("malformed", f"{len(self.data) - self.pos} bytes after the last field")


def _unarmor(text: str | bytes) -> bytes:
    if isinstance(text, bytes):
        if len(text) > ARMOR_CAP:
            raise SshsigError("malformed", "the signature file is too large")
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise SshsigError("malformed", "the signature file is not ASCII") from None
    if len(text) > ARMOR_CAP:
        raise SshsigError("malformed", "the signature file is too large")
    lines = [line.strip() for line in text.strip().split("\n")]
    if len(lines) < 3 or lines[0] != _HEADER or lines[-1] != _FOOTER:
        raise SshsigError("malformed", "not an armored SSH signature")
    try:
        return base64.b64decode("".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        raise SshsigError("malformed", "the armored body is not base64") from None


def verify(armored: str | bytes, message: bytes, namespace: str) -> Verified:
    blob = _Cursor(_unarmor(armored))
    if blob.take(6) != b"SSHSIG":
        raise SshsigError("malformed", "the SSHSIG magic is missing")
    if blob.uint32() != 1:
        raise SshsigError("malformed", "unknown SSHSIG version")
    public = blob.string()
    signed_namespace = blob.string()
    blob.string()  # reserved
    digest_name = blob.string().decode("ascii", "replace")
    signature = blob.string()
    blob.finished()
    if signed_namespace != namespace.encode("ascii"):
        raise SshsigError("namespace", f"signed for namespace {signed_namespace[:60]!r}, expected {namespace!r}")
    if digest_name not in _DIGESTS:
        raise SshsigError("unsupported", f"message hash {digest_name[:20]!r}")
    pre = b"".join((b"SSHSIG", _wire(namespace.encode("ascii")), _wire(b""), _wire(digest_name.encode("ascii")),
                    _wire(_DIGESTS[digest_name](message).digest())))
    _verify_with(public, signature, pre)
    return Verified(public)


def _wire(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value


def _verify_with(public: bytes, signature: bytes, pre: bytes) -> None:
    key_type = _Cursor(public).name()
    try:
        key = serialization.load_ssh_public_key(f"{key_type} {base64.b64encode(public).decode('ascii')}".encode())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise SshsigError("unsupported", f"public key of type {key_type[:40]!r} cannot be read") from None
    sig = _Cursor(signature)
    algorithm = sig.name()
    value = sig.string()
    sig.finished()
    try:
        if key_type == "ssh-ed25519" and algorithm == "ssh-ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(value, pre)
        elif key_type == "ssh-rsa" and algorithm in _RSA_HASH and isinstance(key, rsa.RSAPublicKey):
            width = (key.key_size + 7) // 8
            if len(value) > width:
                raise InvalidSignature()
            key.verify(value.rjust(width, b"\x00"), pre, padding.PKCS1v15(), _RSA_HASH[algorithm])
        elif key_type in _ECDSA_HASH and algorithm == key_type and isinstance(key, ec.EllipticCurvePublicKey):
            pair = _Cursor(value)
            r, s = (int.from_bytes(pair.string(), "big") for _ in range(2))
            pair.finished()
            key.verify(encode_dss_signature(r, s), pre, ec.ECDSA(_ECDSA_HASH[key_type]))
        else:
            raise SshsigError("unsupported", f"a {algorithm[:40]} signature by a {key_type[:40]} key")
    except InvalidSignature:
        raise SshsigError("bad-signature", "the signature does not match the message and key") from None
