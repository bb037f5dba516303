"""OpenSSH SSHSIG signatures (openssh-portable PROTOCOL.sshsig), made and checked without `ssh-keygen`.

A signature is the armored blob

    byte[6] "SSHSIG" | uint32 1 | string publickey | string namespace | string reserved
    | string hash_algorithm | string signature

where `signature` is the key's ordinary SSH signature over

    byte[6] "SSHSIG" | string namespace | string "" | string hash_algorithm | string H(message)

Signing uses SHA-512 (what `ssh-keygen -Y sign` uses); verifying accepts SHA-256 and SHA-512, as
OpenSSH does. The namespace is checked here, against the one the caller expects, and is part of
what is signed, so a signature made for another purpose (git commits, files) never passes as an
attestation. Keys: Ed25519, ECDSA on P-256/P-384/P-521, RSA (rsa-sha2-512/256, never SHA-1), the
types the gateway registers for handlers. Whether the key is *trusted* is the caller's decision:
`verify` only says which key made a valid signature.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass
from enum import StrEnum

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

MAGIC = b"SSHSIG"
VERSION = 1
NAMESPACE = "gateway-attestation"
BEGIN = "-----BEGIN SSH SIGNATURE-----"
END = "-----END SSH SIGNATURE-----"
MAX_ARMORED = 16 * 1024  # an RSA-8192 signature is under 3 KiB armored
_LINE = 70  # the width ssh-keygen writes

_HASHES = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}
_CURVES: dict[str, tuple[type[ec.EllipticCurve], hashes.HashAlgorithm]] = {
    "nistp256": (ec.SECP256R1, hashes.SHA256()),
    "nistp384": (ec.SECP384R1, hashes.SHA384()),
    "nistp521": (ec.SECP521R1, hashes.SHA512()),
}
_RSA = {"rsa-sha2-512": hashes.SHA512(), "rsa-sha2-256": hashes.SHA256()}

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class Problem(StrEnum):
    """Why a signature is not accepted; callers choose their message from this, never from text."""

    MALFORMED = "malformed"  # not an armored SSHSIG blob of version 1
    NAMESPACE = "namespace"  # made for another purpose than the one expected
    UNSUPPORTED = "unsupported"  # a key type or algorithm we do not accept (SHA-1 RSA, FIDO keys)
    BAD_SIGNATURE = "bad-signature"  # does not verify over this message with the key it names


class SshsigError(ValueError):
    def __init__(self, problem: Problem, detail: str) -> None:
        super().__init__(f"{problem}: {detail}")
        self.problem = problem
        self.detail = detail


@dataclass(frozen=True)
class Verified:
    """A valid signature: the key that made it (SSH wire blob) and the hash algorithm it used."""

    public_key: bytes
    hash_algorithm: str

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    @property
    def openssh(self) -> str:
        return public_key_line(self.public_key)


# -- the SSH wire encoding (RFC 4251) -----------------------------------------------------------

def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _mpint(value: int) -> bytes:
    data = value.to_bytes((value.bit_length() + 8) // 8, "big") if value else b""
    return _string(data)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def raw(self, n: int) -> bytes:
        if self._at + n > len(self._data):
            raise SshsigError(Problem.MALFORMED, "truncated")
        out = self._data[self._at:self._at + n]
        self._at += n
        return out

    def u32(self) -> int:
        return int(struct.unpack(">I", self.raw(4))[0])

    def string(self) -> bytes:
        return self.raw(self.u32())

    def text(self) -> str:
        try:
            return self.string().decode("ascii")
        except UnicodeDecodeError:
            raise SshsigError(Problem.MALFORMED, "a name is not ASCII") from None

    def mpint(self) -> int:
        data = self.string()
        if data and data[0] & 0x80:
            raise SshsigError(Problem.MALFORMED, "negative integer in a signature")
        return int.from_bytes(data, "big")

    def end(self) -> None:
        if self._at != len(self._data):
            raise SshsigError(Problem.MALFORMED, "trailing bytes")


# -- keys ---------------------------------------------------------------------------------------

def public_blob(key: PrivateKey | ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> bytes:
    """The SSH wire form of a public key (what `ssh-ed25519 AAAA...` base64-encodes)."""
    public = key.public_key() if hasattr(key, "public_key") else key
    line = public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return base64.b64decode(line.split()[1])


def public_key_line(blob: bytes) -> str:
    """"ssh-ed25519 AAAA...": the key as authorized_keys and allowed_signers write it."""
    return f"{_Reader(blob).text()} {base64.b64encode(blob).decode('ascii')}"


def fingerprint(blob: bytes) -> str:
    """OpenSSH's SHA256 fingerprint, as `ssh-keygen -l` prints it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")


def load_private_key(data: bytes, password: bytes | None = None) -> PrivateKey:
    """An OpenSSH (or PEM) private key file's key. Raises ValueError for a wrong password or a
    file that is not a private key; TypeError when a password is needed and none was given."""
    key: object
    if b"OPENSSH PRIVATE KEY" in data:
        key = serialization.load_ssh_private_key(data, password)
    else:
        key = serialization.load_pem_private_key(data, password)
    if not isinstance(key, (ed25519.Ed25519PrivateKey, ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise SshsigError(Problem.UNSUPPORTED, f"{type(key).__name__} keys cannot sign attestations")
    return key


def _load_public(blob: bytes) -> tuple[str, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey]:
    reader = _Reader(blob)
    key_type = reader.text()
    if key_type not in ("ssh-ed25519", "ssh-rsa") and not key_type.startswith("ecdsa-sha2-"):
        raise SshsigError(Problem.UNSUPPORTED, f"key type {key_type[:40]!r}")
    try:
        key = serialization.load_ssh_public_key(public_key_line(blob).encode("ascii"))
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        raise SshsigError(Problem.MALFORMED, f"unreadable public key: {err}") from None
    if not isinstance(key, (ed25519.Ed25519PublicKey, ec.EllipticCurvePublicKey, rsa.RSAPublicKey)):
        raise SshsigError(Problem.UNSUPPORTED, f"key type {key_type!r}")
    return key_type, key


# -- signing ------------------------------------------------------------------------------------

def _to_sign(namespace: str, hash_algorithm: str, digest: bytes) -> bytes:
    return MAGIC + _string(namespace.encode("ascii")) + _string(b"") + _string(hash_algorithm.encode("ascii")) \
        + _string(digest)


def sign(key: PrivateKey, message: bytes, namespace: str = NAMESPACE) -> str:
    """The armored SSHSIG signature of `message`, as `ssh-keygen -Y sign -n NAMESPACE` writes it."""
    if not namespace:
        raise ValueError("the namespace must not be empty (PROTOCOL.sshsig)")
    data = _to_sign(namespace, "sha512", hashlib.sha512(message).digest())
    if isinstance(key, ed25519.Ed25519PrivateKey):
        signature = _string(b"ssh-ed25519") + _string(key.sign(data))
    elif isinstance(key, rsa.RSAPrivateKey):
        signature = _string(b"rsa-sha2-512") + _string(key.sign(data, padding.PKCS1v15(), hashes.SHA512()))
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        curve = next(name for name, (cls, _) in _CURVES.items() if isinstance(key.curve, cls))
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(_CURVES[curve][1])))
        signature = _string(f"ecdsa-sha2-{curve}".encode()) + _string(_mpint(r) + _mpint(s))
    else:
        raise SshsigError(Problem.UNSUPPORTED, f"{type(key).__name__} keys cannot sign attestations")
    blob = (MAGIC + struct.pack(">I", VERSION) + _string(public_blob(key)) + _string(namespace.encode("ascii"))
            + _string(b"") + _string(b"sha512") + _string(signature))
    return armor(blob)


def armor(blob: bytes) -> str:
    text = base64.b64encode(blob).decode("ascii")
    lines = [text[i:i + _LINE] for i in range(0, len(text), _LINE)]
    return "\n".join([BEGIN, *lines, END]) + "\n"


def dearmor(armored: str | bytes) -> bytes:
    if isinstance(armored, bytes):
        try:
            armored = armored.decode("ascii")
        except UnicodeDecodeError:
            raise SshsigError(Problem.MALFORMED, "not ASCII") from None
    if len(armored) > MAX_ARMORED:
        raise SshsigError(Problem.MALFORMED, f"longer than {MAX_ARMORED} characters")
    lines = [line.strip() for line in armored.strip().splitlines()]
    if len(lines) < 3 or lines[0] != BEGIN or lines[-1] != END:
        raise SshsigError(Problem.MALFORMED, f"not between {BEGIN} and {END}")
    try:
        return base64.b64decode("".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        raise SshsigError(Problem.MALFORMED, "the body is not base64") from None


# -- verifying ----------------------------------------------------------------------------------

def verify(armored: str | bytes, message: bytes, namespace: str = NAMESPACE) -> Verified:
    """Check an armored signature over `message` in `namespace`; returns the key that made it.
    Raises SshsigError with the Problem otherwise."""
    reader = _Reader(dearmor(armored))
    if reader.raw(len(MAGIC)) != MAGIC:
        raise SshsigError(Problem.MALFORMED, "no SSHSIG preamble")
    version = reader.u32()
    if version != VERSION:
        raise SshsigError(Problem.MALFORMED, f"version {version}, only {VERSION} is known")
    public = reader.string()
    got_namespace = reader.text()
    reader.string()  # reserved: ignored when not empty (PROTOCOL.sshsig); never part of what is signed
    hash_algorithm = reader.text()
    signature = reader.string()
    reader.end()
    if got_namespace != namespace:
        raise SshsigError(Problem.NAMESPACE, f"made for namespace {got_namespace[:60]!r}, not {namespace!r}")
    if hash_algorithm not in _HASHES:
        raise SshsigError(Problem.UNSUPPORTED, f"hash algorithm {hash_algorithm[:20]!r}")
    key_type, key = _load_public(public)
    data = _to_sign(namespace, hash_algorithm, _HASHES[hash_algorithm](message).digest())
    _check(key_type, key, signature, data)
    return Verified(public, hash_algorithm)


def _check(key_type: str, key: object, signature: bytes, data: bytes) -> None:
    reader = _Reader(signature)
    algorithm = reader.text()
    raw = reader.string()
    reader.end()
    try:
        if isinstance(key, ed25519.Ed25519PublicKey) and algorithm == "ssh-ed25519":
            key.verify(raw, data)
        elif isinstance(key, rsa.RSAPublicKey) and algorithm in _RSA:
            # OpenSSH accepts a signature shorter than the modulus (leading zero bytes dropped).
            size = (key.key_size + 7) // 8
            if len(raw) > size:
                raise InvalidSignature()
            key.verify(raw.rjust(size, b"\0"), data, padding.PKCS1v15(), _RSA[algorithm])
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm == key_type:
            curve = key_type.removeprefix("ecdsa-sha2-")
            if curve not in _CURVES:
                raise SshsigError(Problem.UNSUPPORTED, f"curve {curve[:20]!r}")
            inner = _Reader(raw)
            r, s = inner.mpint(), inner.mpint()
            inner.end()
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(_CURVES[curve][1]))
        else:
            raise SshsigError(Problem.UNSUPPORTED, f"signature algorithm {algorithm[:40]!r} for a {key_type} key")
    except InvalidSignature:
        raise SshsigError(Problem.BAD_SIGNATURE, "the signature does not verify with the key it names") from None
