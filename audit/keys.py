"""Which keys the auditor trusts: the trust policy's keys and the keys they handed over to, in order.

keys.json is just bytes in the bundle; it proves nothing by itself. A key is trusted only when the
verifier's trust policy names it (the city's published verifier keys) or it is introduced by a
rotation statement signed by an already trusted key and countersigned by the new key. Without a
policy the genesis key keys.json names is used so the bundle's own consistency can be checked, but
the verdict is then "unverifiable": a key found inside the bundle is never a root of trust.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit import jcs
from audit.result import Failures

_KEY_ID = re.compile(r"[0-9a-f]{16}\Z")
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}\Z")


def key_id(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


def decode_b64(value: Any, length: int) -> bytes | None:
    """Strict padded base64 of exactly `length` bytes, else None."""
    if type(value) is not str or len(value) > 4 * length or not _B64.match(value) or len(value) % 4:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != length or base64.b64encode(raw).decode("ascii") != value:
        return None
    return raw


def _public(raw: bytes) -> Ed25519PublicKey | None:
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        return None


@dataclass
class TrustedKeys:
    genesis: str | None = None          # key id keys.json names as genesis
    pinned: list[str] = field(default_factory=list)  # key ids the trust policy names (roots of trust)
    keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)  # trusted only
    order: list[str] = field(default_factory=list)

    def check(self, signature: Any, message: bytes, expected_key: str | None = None) -> str | None:
        """None when `signature` is a valid trusted Ed25519 signature over `message`, else why not."""
        if type(signature) is not dict:
            return "no signature member"
        if signature.get("alg") != "Ed25519":
            return f"signature alg {str(signature.get('alg'))[:40]!r} is not Ed25519"
        kid = signature.get("key_id")
        if type(kid) is not str or not _KEY_ID.match(kid):
            return "signature key_id is not 16 lowercase hex digits"
        if expected_key is not None and kid != expected_key:
            return f"signed by key {kid}, expected {expected_key}"
        raw = decode_b64(signature.get("value"), 64)
        if raw is None:
            return "signature value is not padded base64 of 64 bytes"
        public = self.keys.get(kid)
        if public is None:
            return f"signed by key {kid}, which is not a trusted key"
        try:
            public.verify(raw, message)
        except InvalidSignature:
            return f"signature by key {kid} does not verify"
        return None

    def check_document(self, document: dict[str, Any], expected_key: str | None = None) -> str | None:
        try:
            body = jcs.canonical(jcs.without(document, "signature"))
        except (jcs.CanonicalError, RecursionError) as exc:
            return f"cannot be canonicalised: {exc}"
        return self.check(document.get("signature"), body, expected_key)


def load_keys(document: Any, roots: list[bytes] | None, failures: Failures, file: str = "keys.json") -> TrustedKeys:
    """Trusted keys from a parsed keys.json; each problem becomes an evidence-forged failure.

    `roots` are the raw public keys the trust policy names; None means no policy (keys.json's own
    genesis key then stands in, for a check of consistency only)."""
    trusted = TrustedKeys()
    before = len(failures)
    fail = lambda where, detail: failures.add("evidence-forged", file, where, detail)  # noqa: E731
    if type(document) is not dict:
        fail(None, "keys.json is not a JSON object")
        document = {}
    if document and document.get("format") != "gateway-keys/1":
        fail("format", f"format is {str(document.get('format'))[:60]!r}, expected 'gateway-keys/1'")
    listed: dict[str, bytes] = {}
    keys = document.get("keys")
    if document and type(keys) is not dict:
        fail("keys", "keys is not an object")
        keys = {}
    for kid, value in (keys or {}).items():
        raw = decode_b64(value, 32)
        if raw is None:
            fail(f"keys.{kid[:40]}", "public key is not padded base64 of 32 bytes")
        elif key_id(raw) != kid:
            fail(f"keys.{kid[:40]}", f"key id does not match the public key (its id is {key_id(raw)})")
        else:
            listed[kid] = raw
    genesis = document.get("genesis")
    if type(genesis) is str and _KEY_ID.match(genesis):
        trusted.genesis = genesis
    elif document:
        fail("genesis", "genesis is not a 16-hex-digit key id")

    root: str | None = None
    if roots is not None:
        for raw in roots:
            public = _public(raw)
            if public is not None and key_id(raw) not in trusted.keys:
                trusted.keys[key_id(raw)] = public
                trusted.order.append(key_id(raw))
                trusted.pinned.append(key_id(raw))
        if trusted.genesis is not None and trusted.genesis not in trusted.keys:
            fail("genesis", f"genesis key {trusted.genesis} is not a key the trust policy names"
                            f" ({', '.join(trusted.pinned) or 'none'})")
        root = trusted.pinned[0] if trusted.pinned else None
    elif trusted.genesis is not None:
        if trusted.genesis not in listed:
            fail("genesis", f"genesis key {trusted.genesis} is not among the listed keys")
        else:
            public = _public(listed[trusted.genesis])
            if public is None:
                fail(f"keys.{trusted.genesis}", "genesis key is not a valid Ed25519 public key")
            else:
                root = trusted.genesis
                trusted.keys[root] = public
                trusted.order.append(root)

    rotations = document.get("rotations", [])
    if type(rotations) is not list:
        fail("rotations", "rotations is not a list")
        rotations = []
    for n, statement in enumerate(rotations):
        where = f"rotations[{n}]"
        problem = _check_rotation(statement, listed, trusted)
        if problem is not None:
            fail(where, problem)
    if root is None and len(failures) == before:
        fail("genesis", "no trusted key")
    return trusted


def _check_rotation(statement: Any, listed: dict[str, bytes], trusted: TrustedKeys) -> str | None:
    if type(statement) is not dict or statement.get("type") != "key-rotation":
        return "not a key-rotation statement"
    old_id, new_id = statement.get("old_key_id"), statement.get("new_key_id")
    old_raw = decode_b64(statement.get("old_public_key"), 32)
    new_raw = decode_b64(statement.get("new_public_key"), 32)
    if old_raw is None or new_raw is None:
        return "old_public_key/new_public_key is not padded base64 of 32 bytes"
    if key_id(old_raw) != old_id or key_id(new_raw) != new_id:
        return "a key id does not match its public key"
    if old_id not in trusted.keys:
        return f"old key {old_id} is not trusted at this point of the rotation chain"
    if trusted.keys[old_id].public_bytes_raw() != old_raw:
        return f"old_public_key is not the trusted key {old_id}"
    if new_id in listed and listed[new_id] != new_raw:
        return f"new_public_key differs from keys.{new_id}"
    if new_id not in listed:
        return f"new key {new_id} is not listed in keys"
    new_public = _public(new_raw)
    if new_public is None:
        return "new_public_key is not a valid Ed25519 public key"
    # Both signatures cover the statement without either signature member (FORMAT.md: "over the
    # same bytes"), so neither can be swapped for one made over a different statement.
    try:
        body = jcs.canonical(jcs.without(statement, "signature", "countersignature"))
    except (jcs.CanonicalError, RecursionError) as exc:
        return f"cannot be canonicalised: {exc}"
    problem = trusted.check(statement.get("signature"), body, expected_key=old_id)
    if problem is not None:
        return f"signature: {problem}"
    countersigner = TrustedKeys(keys={new_id: new_public})
    problem = countersigner.check(statement.get("countersignature"), body, expected_key=new_id)
    if problem is not None:
        return f"countersignature: {problem}"
    if new_id not in trusted.keys:
        trusted.keys[new_id] = new_public
        trusted.order.append(new_id)
    return None
