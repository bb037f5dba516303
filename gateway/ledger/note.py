"""C2SP signed notes, checkpoints and cosignatures, as the gateway writes and reads them.

- c2sp.org/tlog-checkpoint: the note text `<origin>\\n<size>\\n<base64 RFC 6962 root>\\n`
  (the gateway writes no extension lines).
- c2sp.org/signed-note: a signature line `— <key name> base64(key id || signature)`; the key id is
  `SHA-256(name || 0x0A || type || public key)[:4]`; a verifier key is
  `<name>+<8 hex key id>+base64(type || public key)`. The gateway signs with type 0x01 (Ed25519
  over the text) under the key name = its origin, with the same Ed25519 key that signs evidence.
- c2sp.org/tlog-cosignature: a witness's type 0x04 signature, `u64 timestamp || Ed25519(
  "cosignature/v1\\ntime <t>\\n" || note text)`. The gateway checks each cosignature a witness
  returns before it keeps it, so a bundle never carries a line its witness did not sign.

The gateway's own code, written from the specs: it must not import the auditor, which checks the
same bytes independently (tests run both against each other and against the specs' vectors).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIG_ED25519 = 0x01
SIG_COSIGNATURE_V1 = 0x04
DASH = "— "  # U+2014 EM DASH and a space: how every signature line starts
MAX_NOTE_BYTES = 64 << 10
_SIZE = re.compile(r"(?:0|[1-9][0-9]{0,18})\Z")
_HEX8 = re.compile(r"[0-9a-f]{8}\Z")


class NoteError(ValueError):
    """Malformed note, key or signature; the message says which (never a secret)."""


def valid_name(name: str) -> bool:
    """A key name (and so an origin the gateway signs under): non-empty, no space, no '+'."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name) and name.isprintable()


def key_id(name: str, sig_type: int, public: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public).digest()[:4]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def b64decode(text: str) -> bytes:
    """Strict padded standard base64, in its one canonical spelling."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError("not padded standard base64") from None
    if b64(raw) != text:
        raise NoteError("not the canonical base64 spelling")
    return raw


# -- keys ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VerifierKey:
    name: str
    type: int
    public: bytes

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.type, self.public)

    def __str__(self) -> str:
        return f"{self.name}+{self.id.hex()}+{b64(bytes([self.type]) + self.public)}"


def verifier_key(name: str, public: bytes, sig_type: int = SIG_ED25519) -> VerifierKey:
    if not valid_name(name):
        raise NoteError(f"key name {name[:80]!r} is empty, or contains a space, '+' or a control character")
    if len(public) != 32:
        raise NoteError("an Ed25519 public key is 32 bytes")
    return VerifierKey(name, sig_type, public)


def parse_verifier_key(text: str) -> VerifierKey:
    """`<name>+<key id>+base64(type || key)`, with the key id checked against the key."""
    name, sep1, rest = text.strip().partition("+")
    hex_id, sep2, data = rest.partition("+")
    if not (sep1 and sep2) or not _HEX8.match(hex_id):
        raise NoteError("a verifier key is <name>+<8 lowercase hex key id>+<base64 key>")
    raw = b64decode(data)
    if len(raw) != 33 or raw[0] not in (SIG_ED25519, SIG_COSIGNATURE_V1):
        raise NoteError("not an Ed25519 (0x01) or cosignature/v1 (0x04) key of 32 bytes")
    key = verifier_key(name, raw[1:], raw[0])
    try:
        Ed25519PublicKey.from_public_bytes(key.public)
    except ValueError:
        raise NoteError("not a valid Ed25519 public key") from None
    if key.id.hex() != hex_id:
        raise NoteError(f"key id {hex_id} does not match the key (its id is {key.id.hex()})")
    return key


# -- checkpoints --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> bytes:
        return f"{self.origin}\n{self.size}\n{b64(self.root)}\n".encode()


def parse_checkpoint(text: bytes) -> Checkpoint:
    """The note text of a checkpoint the gateway wrote: exactly three lines, no extensions."""
    try:
        lines = text.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        raise NoteError("the checkpoint is not UTF-8") from None
    if len(lines) != 4 or lines[3] != "":
        raise NoteError("a gateway checkpoint is three lines: origin, size, root hash")
    origin, size, root = lines[:3]
    if not valid_name(origin) or not _SIZE.match(size):
        raise NoteError("the origin or the tree size is malformed")
    raw = b64decode(root)
    if len(raw) != 32:
        raise NoteError("the root hash is not 32 bytes")
    return Checkpoint(origin, int(size), raw)


# -- notes --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        return f"{DASH}{self.name} {b64(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class Note:
    text: bytes
    signatures: tuple[Signature, ...]


def parse_signature_line(line: str) -> Signature:
    if not line.startswith(DASH):
        raise NoteError("a signature line starts with an em dash and a space")
    name, sep, value = line[len(DASH):].partition(" ")
    if not sep or not valid_name(name):
        raise NoteError("a signature line's key name is missing or malformed")
    raw = b64decode(value)
    if len(raw) < 5:
        raise NoteError("a signature is a 4-byte key id and at least one byte")
    return Signature(name, raw[:4], raw[4:])


def parse_note(data: bytes) -> Note:
    """Text and signature lines; the text of a checkpoint holds no empty line."""
    if len(data) > MAX_NOTE_BYTES:
        raise NoteError("the note is larger than 64 KiB")
    text, sep, block = data.partition(b"\n\n")
    if not sep or not block.endswith(b"\n"):
        raise NoteError("no blank line and signature block after the text")
    try:
        lines = block.decode("utf-8")[:-1].split("\n")
    except UnicodeDecodeError:
        raise NoteError("the signature block is not UTF-8") from None
    return Note(text + b"\n", tuple(parse_signature_line(line) for line in lines))


def sign_checkpoint(checkpoint: Checkpoint, private: Ed25519PrivateKey) -> str:
    """The signed note: the checkpoint text, a blank line, the gateway's signature line."""
    if not valid_name(checkpoint.origin):
        raise NoteError("the origin is not a valid key name")
    text = checkpoint.text()
    public = private.public_key().public_bytes_raw()
    line = Signature(checkpoint.origin, key_id(checkpoint.origin, SIG_ED25519, public), private.sign(text)).line()
    return (text + b"\n").decode("utf-8") + line


def signed_by(note: Note, keys: list[VerifierKey]) -> VerifierKey | None:
    """The first of `keys` (type 0x01) whose signature is on the note and verifies; None if none.
    A signature by one of `keys` that does not verify is an error, not something to skip."""
    for sig in note.signatures:
        for key in keys:
            if sig.name == key.name and sig.key_id == key.id:
                try:
                    Ed25519PublicKey.from_public_bytes(key.public).verify(sig.signature, note.text)
                except InvalidSignature:
                    raise NoteError(f"the signature of {key.name}+{key.id.hex()} does not verify") from None
                return key
    return None


def cosignature_message(text: bytes, timestamp: int) -> bytes:
    return b"cosignature/v1\ntime " + str(timestamp).encode("ascii") + b"\n" + text


def verify_cosignature(witness: VerifierKey, text: bytes, sig: Signature) -> int:
    """The time a witness's cosignature states, once it verifies over `text`; else NoteError."""
    if witness.type != SIG_COSIGNATURE_V1:
        raise NoteError("a witness key is a cosignature/v1 (type 0x04) key")
    if sig.name != witness.name or sig.key_id != witness.id:
        raise NoteError(f"the line is by {sig.name}+{sig.key_id.hex()}, not by {witness.name}+{witness.id.hex()}")
    if len(sig.signature) != 8 + 64:
        raise NoteError("a cosignature is an 8-byte time and a 64-byte Ed25519 signature")
    timestamp = int.from_bytes(sig.signature[:8], "big")
    if timestamp >= 1 << 63:
        raise NoteError("the cosignature's time exceeds 2^63-1")
    try:
        Ed25519PublicKey.from_public_bytes(witness.public).verify(sig.signature[8:],
                                                                  cosignature_message(text, timestamp))
    except InvalidSignature:
        raise NoteError(f"the cosignature of {witness.name} does not verify over this checkpoint") from None
    return timestamp
