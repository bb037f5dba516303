"""C2SP signed notes (c2sp.org/signed-note): parse, verify and sign.

A note is text followed by a blank line and signature lines `— <key name> base64(key id || sig)`.
Verifiers are configured out of band with verifier keys `<name>+<8 hex key id>+base64(type || key)`;
a signature whose (name, key id) matches no configured key is ignored, as the spec requires, and a
signature by a configured key that does not verify rejects the whole note.

Two signature types are supported, the two this project uses: 0x01 (Ed25519 over the note text:
the gateway's checkpoints) and 0x04 (tlog-cosignature/v1: a witness's timestamped Ed25519
signature). Everything read is bounded: MAX_NOTE_BYTES and MAX_SIGNATURES.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIG_ED25519 = 0x01
SIG_COSIGNATURE_V1 = 0x04
TYPES = {SIG_ED25519: "Ed25519", SIG_COSIGNATURE_V1: "cosignature/v1"}

# The spec asks verifiers to accept at least 16 signatures; Go's note package refuses more than 100.
MAX_SIGNATURES = 100
MAX_NOTE_BYTES = 64 << 10
MAX_TIMESTAMP = (1 << 63) - 1
COSIGNATURE_HEADER = b"cosignature/v1\n"

_SIG_PREFIX = "— ".encode()
_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}\Z")
_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}\Z")
# Any ASCII control character except newline; DEL (0x7f) is not below U+0020 and is allowed by the spec.
_CONTROL = re.compile(rb"[\x00-\x09\x0b-\x1f]")


class NoteError(ValueError):
    """A note, key or signature that is malformed or does not verify; the message says which."""


def valid_name(name: str) -> bool:
    """Key names: non-empty, no Unicode space, no plus (signed-note, "Format")."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_id(name: str, sig_type: int, public: bytes) -> int:
    """SHA-256(key name || 0x0A || signature type || public key)[:4], as a big-endian integer."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public).digest()
    return int.from_bytes(digest[:4], "big")


def b64decode_strict(value: str) -> bytes:
    """Standard padded base64 in its one canonical spelling, else NoteError."""
    if not _B64.match(value) or len(value) % 4:
        raise NoteError("not padded standard base64")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError("not padded standard base64") from None
    if base64.b64encode(raw).decode("ascii") != value:
        raise NoteError("base64 with non-zero padding bits")
    return raw


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def cosignature_message(text: bytes, timestamp: int) -> bytes:
    """What a tlog-cosignature/v1 Ed25519 signature covers (c2sp.org/tlog-cosignature)."""
    return COSIGNATURE_HEADER + b"time " + str(timestamp).encode("ascii") + b"\n" + text


@dataclass(frozen=True)
class Verified:
    """A signature that verified: whose it is and, for a cosignature, the time it states."""
    key: VerifierKey
    timestamp: int | None


@dataclass(frozen=True)
class VerifierKey:
    name: str
    type: int
    public: bytes  # the raw 32-byte Ed25519 public key

    @property
    def key_id(self) -> int:
        return key_id(self.name, self.type, self.public)

    def __str__(self) -> str:
        return f"{self.name}+{self.key_id:08x}+{b64(bytes([self.type]) + self.public)}"

    def verify(self, text: bytes, signature: bytes) -> Verified | None:
        """The signature bytes after the key id; None when they do not verify over `text`."""
        public = Ed25519PublicKey.from_public_bytes(self.public)
        timestamp: int | None = None
        if self.type == SIG_ED25519:
            message, raw = text, signature
        elif self.type == SIG_COSIGNATURE_V1:
            if len(signature) != 8 + 64:
                return None
            timestamp = int.from_bytes(signature[:8], "big")
            if timestamp > MAX_TIMESTAMP:
                return None
            message, raw = cosignature_message(text, timestamp), signature[8:]
        else:  # parse_verifier_key admits no other type
            return None
        if len(raw) != 64:
            return None
        try:
            public.verify(raw, message)
        except InvalidSignature:
            return None
        return Verified(self, timestamp)


def verifier_key(name: str, sig_type: int, public: bytes) -> VerifierKey:
    if not valid_name(name):
        raise NoteError(f"key name {name[:80]!r} is empty or contains a space or '+'")
    if sig_type not in TYPES:
        raise NoteError(f"signature type 0x{sig_type:02x} is not one this verifier supports (0x01, 0x04)")
    if len(public) != 32:
        raise NoteError("an Ed25519 public key is 32 bytes")
    try:
        Ed25519PublicKey.from_public_bytes(public)
    except ValueError:
        raise NoteError("not a valid Ed25519 public key") from None
    return VerifierKey(name, sig_type, public)


def parse_verifier_key(vkey: str) -> VerifierKey:
    """`<name>+<8 lowercase hex key id>+base64(type || public key)`, the id checked against the key."""
    parts = vkey.split("+", 2)  # base64 may itself hold '+'; names may not
    if len(parts) != 3:
        raise NoteError("a verifier key is <name>+<key id>+<base64 key>")
    name, hex_id, data = parts
    if not _KEY_ID_HEX.match(hex_id):
        raise NoteError("the key id of a verifier key is 8 lowercase hex digits")
    raw = b64decode_strict(data)
    if len(raw) < 2:
        raise NoteError("the verifier key holds no key")
    key = verifier_key(name, raw[0], raw[1:])
    if key.key_id != int(hex_id, 16):
        raise NoteError(f"key id {hex_id} does not match the key (its id is {key.key_id:08x})")
    return key


# -- notes ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: int
    signature: bytes  # after the key id

    def line(self) -> str:
        return f"— {self.name} {b64(self.key_id.to_bytes(4, 'big') + self.signature)}"


@dataclass(frozen=True)
class Note:
    text: bytes  # including its final newline, not the blank separator line
    signatures: tuple[NoteSignature, ...]

    def encode(self) -> bytes:
        return self.text + b"\n" + "".join(s.line() + "\n" for s in self.signatures).encode("utf-8")


def parse(msg: bytes, *, allow_empty_lines: bool = False) -> Note:
    """Split a signed note into text and signature lines, refusing anything malformed.

    The spec lets the text hold empty lines (the last blank line separates). Everything this project
    signs is a checkpoint, whose lines are never empty, so by default an empty line inside the text
    is refused: there is then exactly one place the signatures can start.
    """
    if len(msg) > MAX_NOTE_BYTES:
        raise NoteError(f"the note is larger than {MAX_NOTE_BYTES} bytes")
    try:
        msg.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("the note is not valid UTF-8") from None
    if _CONTROL.search(msg):
        raise NoteError("the note contains a control character other than newline")
    split = msg.rfind(b"\n\n")
    if split < 0:
        raise NoteError("no blank line separates the text from the signatures")
    text, block = msg[:split + 1], msg[split + 2:]
    if not block or not block.endswith(b"\n"):
        raise NoteError("the signature block is empty or does not end in a newline")
    if not allow_empty_lines and (text.startswith(b"\n") or b"\n\n" in text):
        raise NoteError("the note text contains an empty line")
    signatures: list[NoteSignature] = []
    for raw_line in block[:-1].split(b"\n"):
        if len(signatures) == MAX_SIGNATURES:
            raise NoteError(f"more than {MAX_SIGNATURES} signatures")
        signatures.append(_signature_line(raw_line))
    return Note(text, tuple(signatures))


def _signature_line(raw: bytes) -> NoteSignature:
    if not raw.startswith(_SIG_PREFIX):
        raise NoteError("a line of the signature block does not start with an em dash and a space")
    name, sep, value = raw[len(_SIG_PREFIX):].decode("utf-8").partition(" ")
    if not sep or not valid_name(name):
        raise NoteError("a signature line's key name is missing, or contains a space or '+'")
    raw_sig = b64decode_strict(value) if value else b""
    if len(raw_sig) < 5:
        raise NoteError(f"the signature of {name[:80]} is shorter than a key id and one byte")
    return NoteSignature(name, int.from_bytes(raw_sig[:4], "big"), raw_sig[4:])


def verify(note: Note, verifiers: Sequence[VerifierKey]) -> list[Verified]:
    """The signatures by configured keys, each verified; unknown keys' signatures are ignored.

    A configured key's signature that fails rejects the note (NoteError). Repeated signatures by one
    key count once (the first is the one checked), as in Go's note package.
    """
    known: dict[tuple[str, int], list[VerifierKey]] = {}
    for v in verifiers:
        known.setdefault((v.name, v.key_id), []).append(v)
    seen: set[tuple[str, int]] = set()
    verified: list[Verified] = []
    for sig in note.signatures:
        ident = (sig.name, sig.key_id)
        candidates = known.get(ident)
        if candidates is None or ident in seen:
            continue
        if len({(c.type, c.public) for c in candidates}) > 1:
            raise NoteError(f"ambiguous key {sig.name}+{sig.key_id:08x}: two configured keys share name and id")
        seen.add(ident)
        result = candidates[0].verify(note.text, sig.signature)
        if result is None:
            raise NoteError(f"invalid signature for key {sig.name}+{sig.key_id:08x}")
        verified.append(result)
    return verified


def open_note(msg: bytes, verifiers: Sequence[VerifierKey], *,
              allow_empty_lines: bool = False) -> tuple[Note, list[Verified]]:
    """Parse and verify; a note that no configured key signed is refused (its text must be ignored)."""
    note = parse(msg, allow_empty_lines=allow_empty_lines)
    verified = verify(note, verifiers)
    if not verified:
        raise NoteError("note has no verifiable signatures: no signature by a configured key")
    return note, verified


# -- signing ----------------------------------------------------------------------------------

class NoteSigner(Protocol):
    name: str

    @property
    def key_id(self) -> int: ...

    def sign(self, text: bytes) -> bytes: ...


@dataclass(frozen=True)
class Ed25519Signer:
    """A type 0x01 note signer, as in Go's note package."""
    name: str
    private: Ed25519PrivateKey

    @property
    def public(self) -> bytes:
        return self.private.public_key().public_bytes_raw()

    @property
    def key_id(self) -> int:
        return key_id(self.name, SIG_ED25519, self.public)

    @property
    def verifier(self) -> VerifierKey:
        return verifier_key(self.name, SIG_ED25519, self.public)

    def sign(self, text: bytes) -> bytes:
        return self.private.sign(text)

    def private_key_string(self) -> str:
        """`PRIVATE+KEY+<name>+<key id>+base64(0x01 || seed)`: Go's note.NewSigner reads it."""
        seed = self.private.private_bytes_raw()
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{b64(bytes([SIG_ED25519]) + seed)}"


def parse_private_key(skey: str) -> Ed25519Signer:
    """Read Go's signer key string; the key id is checked against the key it derives."""
    parts = skey.split("+", 4)
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise NoteError("a private key is PRIVATE+KEY+<name>+<key id>+<base64 key>")
    name, hex_id, data = parts[2:]
    if not valid_name(name) or not _KEY_ID_HEX.match(hex_id):
        raise NoteError("the private key's name or key id is malformed")
    raw = b64decode_strict(data)
    if len(raw) != 33 or raw[0] != SIG_ED25519:
        raise NoteError("the private key is not an Ed25519 (type 0x01) seed of 32 bytes")
    signer = Ed25519Signer(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
    if signer.key_id != int(hex_id, 16):
        raise NoteError("the private key's key id does not match its key")
    return signer


def generate_key(name: str) -> Ed25519Signer:
    if not valid_name(name):
        raise NoteError(f"key name {name[:80]!r} is empty or contains a space or '+'")
    return Ed25519Signer(name, Ed25519PrivateKey.generate())


def sign(text: bytes, signers: Sequence[NoteSigner], keep: Sequence[NoteSignature] = ()) -> bytes:
    """The signed note: `keep`'s lines first (minus those the signers replace), then new ones."""
    if not text.endswith(b"\n"):
        raise NoteError("the note text must end in a newline")
    new = [NoteSignature(s.name, s.key_id, s.sign(text)) for s in signers]
    replaced = {(s.name, s.key_id) for s in new}
    kept = [s for s in keep if (s.name, s.key_id) not in replaced]
    note = Note(text, tuple(kept + new))
    if not all(valid_name(s.name) for s in note.signatures):
        raise NoteError("a signer's name is empty or contains a space or '+'")
    return note.encode()
