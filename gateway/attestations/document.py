"""The attestation document: what a handler signs, as canonical JSON (RFC 8785), and its envelope.

    {"format": "gateway-attestation/1", "type": "receipt", "transfer": "T20200601-...",
     "signer": "k.tanaka", "nonce": "<32 hex>", "signed_at": "2020-06-02T01:00:00.000000Z",
     "record_count": 305115, "sha256": "...", "package_sha256": "..."}

The transfer id, the signer, a random nonce and the signing time are inside what is signed: the
signature cannot be moved to another transfer, another person or a second filing. The exact bytes
that were signed are the canonical JSON of the document; they are what the gateway keeps and what
the evidence bundle carries as `attestations/<id>.json`, whose id is derived from those bytes.

Both sides use this module: the client to build and sign, the gateway to read what arrives
(strictly: an unknown member is refused, not ignored, so nothing signed goes unrecorded).
"""
from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from gateway.attestations import sshsig
from gateway.clock import timestamp
from gateway.crypto.canonical_json import canonical
from gateway.errors import Invalid

FORMAT = "gateway-attestation/1"
RECEIPT, DELETION_REQUEST, ERASURE_CERTIFICATE, DELIVERABLE = (
    "receipt", "deletion-request", "erasure-certificate", "deliverable-declaration")
MAX_DOCUMENT = 64 * 1024  # canonical bytes; a certificate is under 2 KiB
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
# An erasure certificate's sanitisation is one of NIST SP 800-88's three levels, whoever files it.
SANITISATION = ("clear", "purge", "destroy")

_TRANSFER = re.compile(r"T\d{8}-[0-9a-f]{10}\Z")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")

Check = Callable[[Any], bool]


def _text(limit: int) -> Check:
    return lambda v: type(v) is str and 0 < len(v.strip()) and len(v) <= limit


def _count(minimum: int) -> Check:
    return lambda v: type(v) is int and minimum <= v <= 2**53 - 1


def _time(v: Any) -> bool:
    return type(v) is str and _TIME.match(v) is not None


def _day(v: Any) -> bool:
    if type(v) is not str or len(v) != 10:
        return False
    try:
        date.fromisoformat(v)
    except ValueError:
        return False
    return True


def _person(v: Any) -> bool:
    return type(v) is dict and set(v) == {"name", "title"} and all(_text(200)(x) for x in v.values())


def _hex64(v: Any) -> bool:
    return type(v) is str and _HEX64.match(v) is not None


COMMON: dict[str, Check] = {
    "format": lambda v: v == FORMAT,
    "type": lambda v: v in TYPES,
    "transfer": lambda v: type(v) is str and _TRANSFER.match(v) is not None,
    "signer": _text(64),
    "nonce": lambda v: type(v) is str and re.fullmatch(r"[0-9a-f]{32}", v) is not None,
    "signed_at": _time,
}
TYPES: dict[str, dict[str, Check]] = {
    RECEIPT: {"record_count": _count(0), "sha256": _hex64, "package_sha256": lambda v: v is None or _hex64(v)},
    DELETION_REQUEST: {"items": _text(1000), "media": _text(1000), "quantity": _count(1), "method": _text(1000),
                       "planned_date": _day},
    ERASURE_CERTIFICATE: {"deletion": _text(40), "erased_at": _time, "media_manufacturer": _text(200),
                          "media_model": _text(200), "media_serial_or_location": _text(200),
                          "sanitisation": lambda v: v in SANITISATION, "technique": _text(500),
                          "tool": _text(200), "verification": _text(500), "sanitised_by": _person,
                          "verified_by": _person, "place": _text(200)},
    DELIVERABLE: {"name": _text(255), "sha256": _hex64, "size": _count(0)},
}
# For people: what each type is, Japanese first.
LABELS = {RECEIPT: ("預り証（受領確認）", "receipt"), DELETION_REQUEST: ("消去依頼", "deletion request"),
          ERASURE_CERTIFICATE: ("消去証明書", "erasure certificate"),
          DELIVERABLE: ("納品物の申告", "deliverable declaration")}


def new(kind: str, *, transfer: str, signer: str, at: datetime, **fields: Any) -> dict[str, Any]:
    """A document to sign, with a fresh nonce and the signer's time."""
    doc = {"format": FORMAT, "type": kind, "transfer": transfer, "signer": signer,
           "nonce": secrets.token_hex(16), "signed_at": timestamp(at.astimezone(UTC)), **fields}
    problem = problem_of(doc)
    if problem is not None:
        raise Invalid(f"署名する文書の内容に誤りがあります（{problem}）。", f"the document to sign is not valid: {problem}.")
    return doc


def problem_of(doc: Any) -> str | None:
    """What is wrong with a document's form, or None (English, for logs and messages)."""
    if type(doc) is not dict:
        return "not a JSON object"
    kind = doc.get("type")
    if kind not in TYPES:
        return f"unknown type {str(kind)[:40]!r}"
    wanted = {**COMMON, **TYPES[kind]}
    extra = sorted(set(doc) - set(wanted))
    if extra:
        return f"unknown member(s) {', '.join(repr(x[:40]) for x in extra[:5])}"
    for name, check in wanted.items():
        if name not in doc or not check(doc[name]):
            return f"member {name!r} is missing or not valid"
    return None


def data(doc: dict[str, Any]) -> bytes:
    """The bytes that are signed: the document's canonical JSON."""
    return canonical(doc)


def attestation_id(signed: bytes) -> str:
    """The id of the attestation, from the bytes signed (so the file name cannot be swapped)."""
    return "A-" + hashlib.sha256(signed).hexdigest()[:24]


@dataclass(frozen=True)
class Envelope:
    """A signed attestation as it travels: the document and its armored SSHSIG signature."""

    document: dict[str, Any]
    signature: str

    @property
    def data(self) -> bytes:
        return data(self.document)

    @property
    def id(self) -> str:
        return attestation_id(self.data)

    @property
    def type(self) -> str:
        return str(self.document["type"])

    def to_json(self) -> dict[str, Any]:
        return {"document": self.document, "signature": self.signature}

    @classmethod
    def from_json(cls, value: Any) -> Envelope:
        """An envelope as received; its document's form is checked, its signature is not (yet)."""
        if type(value) is not dict or set(value) != {"document", "signature"} or type(value["signature"]) is not str:
            raise Invalid("署名付き文書の形式ではありません。gateway-client で作成してください。",
                          "not a signed attestation ({document, signature}); make it with gateway-client.")
        problem = problem_of(value["document"])
        if problem is None and len(data(value["document"])) > MAX_DOCUMENT:
            problem = f"larger than {MAX_DOCUMENT} bytes"
        if problem is not None:
            raise Invalid(f"署名付き文書の内容に誤りがあります（{problem}）。",
                          f"the signed document is not valid: {problem}.")
        return cls(value["document"], value["signature"])


def sign(doc: dict[str, Any], key: sshsig.PrivateKey) -> Envelope:
    return Envelope(doc, sshsig.sign(key, data(doc)))
