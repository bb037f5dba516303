"""The age v1 header: version line, recipient stanzas and the header MAC (C2SP age.md).

Parsing is strict: anything that would re-encode differently is rejected, because the MAC is
computed over the bytes as received and two encodings of one header must not both verify.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.crypto.age.errors import HeaderError, HmacError

VERSION_LINE = b"age-encryption.org/v1\n"
STANZA_PREFIX = b"-> "
MAC_PREFIX = b"---"
BODY_COLUMNS = 64
MAC_SIZE = 32
FILE_KEY_SIZE = 16

# Bounds that keep a hostile header from costing unbounded memory. Real stanzas (X25519, scrypt,
# even ML-KEM hybrids at ~1.5 KB) are far below them.
MAX_LINE = 16 * 1024
MAX_HEADER = 1024 * 1024

_ARG = re.compile(rb"[\x21-\x7e]+\Z")
_B64_CHARS = re.compile(rb"[A-Za-z0-9+/]*\Z")


@dataclass(frozen=True)
class Stanza:
    type: str
    args: tuple[str, ...]
    body: bytes

    def encode(self) -> bytes:
        words = (self.type, *self.args)
        for word in words:
            if not _ARG.match(word.encode("ascii")):
                raise ValueError("stanza arguments must be non-empty printable ASCII without spaces")
        out = bytearray(STANZA_PREFIX + " ".join(words).encode("ascii") + b"\n")
        body = b64encode(self.body)
        # A full last line must be followed by an empty one: the short line ends the stanza.
        for start in range(0, len(body) + 1, BODY_COLUMNS):
            out += body[start:start + BODY_COLUMNS] + b"\n"
        return bytes(out)


@dataclass(frozen=True)
class Header:
    stanzas: tuple[Stanza, ...]
    mac: bytes
    mac_input: bytes  # the header bytes up to and including "---", as received


def b64encode(data: bytes) -> bytes:
    return base64.b64encode(data).rstrip(b"=")


def b64decode(text: bytes) -> bytes:
    """Standard base64 without padding, canonical only (no padding, zero trailing bits)."""
    if not _B64_CHARS.match(text) or len(text) % 4 == 1:
        raise HeaderError("invalid base64 in header")
    try:
        data = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except binascii.Error as err:
        raise HeaderError("invalid base64 in header") from err
    if b64encode(data) != text:
        raise HeaderError("non-canonical base64 in header")
    return data


def hkdf(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def header_mac(file_key: bytes, mac_input: bytes) -> bytes:
    key = hkdf(file_key, b"", b"header")
    return hmac.new(key, mac_input, hashlib.sha256).digest()


def encode_header(stanzas: list[Stanza], file_key: bytes) -> bytes:
    mac_input = VERSION_LINE + b"".join(s.encode() for s in stanzas) + MAC_PREFIX
    return mac_input + b" " + b64encode(header_mac(file_key, mac_input)) + b"\n"


def verify_mac(header: Header, file_key: bytes) -> None:
    if not hmac.compare_digest(header_mac(file_key, header.mac_input), header.mac):
        raise HmacError("header MAC does not match: the header was altered or the file is damaged")


class _LineReader:
    def __init__(self, src: BinaryIO) -> None:
        self._src = src
        self.consumed = bytearray()

    def line(self) -> bytes:
        """The next line without its LF; a missing LF or an over-long line is a header error."""
        raw = self._src.readline(MAX_LINE + 1)
        if not raw.endswith(b"\n"):
            if not raw:
                raise HeaderError("header ends early (file is truncated or empty)")
            raise HeaderError("header line is too long or unterminated")
        self.consumed += raw
        if len(self.consumed) > MAX_HEADER:
            raise HeaderError("header is too large")
        return raw[:-1]


def read_header(src: BinaryIO) -> Header:
    """Read exactly the header from src, leaving src positioned at the payload nonce."""
    reader = _LineReader(src)
    if reader.line() + b"\n" != VERSION_LINE:
        raise HeaderError("not an age v1 file (unknown or missing version line)")
    stanzas: list[Stanza] = []
    while True:
        line = reader.line()
        if line.startswith(STANZA_PREFIX):
            stanzas.append(_read_stanza(line, reader))
        elif line.startswith(MAC_PREFIX):
            mac_input = bytes(reader.consumed[: -len(line) - 1]) + MAC_PREFIX
            return Header(tuple(stanzas), _parse_mac_line(line), mac_input)
        else:
            raise HeaderError("malformed header line (expected a stanza or the MAC line)")


def _read_stanza(line: bytes, reader: _LineReader) -> Stanza:
    words = line[len(STANZA_PREFIX):].split(b" ")
    if not all(_ARG.match(w) for w in words):
        raise HeaderError("malformed stanza arguments")
    body = bytearray()
    while True:
        body_line = reader.line()
        if len(body_line) > BODY_COLUMNS:
            raise HeaderError("stanza body line longer than 64 columns")
        body += body_line
        if len(body_line) < BODY_COLUMNS:
            break
    text = [w.decode("ascii") for w in words]
    return Stanza(text[0], tuple(text[1:]), b64decode(bytes(body)))


def _parse_mac_line(line: bytes) -> bytes:
    if not line.startswith(MAC_PREFIX + b" "):
        raise HeaderError("malformed MAC line")
    mac = b64decode(line[len(MAC_PREFIX) + 1:])
    if len(mac) != MAC_SIZE:
        raise HeaderError("header MAC has the wrong length")
    return mac
