"""Hashes and times exactly as `audit/FORMAT.md` defines them."""
from __future__ import annotations

import hashlib
from typing import Any

from gateway.crypto.canonical_json import canonical

GENESIS_PREV = "0" * 64


def leaf_hash(entry: dict[str, Any]) -> str:
    """RFC 6962 leaf: SHA-256(0x00 || canonical JSON of the entry)."""
    return hashlib.sha256(b"\x00" + canonical(entry)).hexdigest()


def node_hash(structure: dict[str, Any]) -> str:
    """RFC 6962 interior-node prefix, used to chain signed structures (checkpoints)."""
    return hashlib.sha256(b"\x01" + canonical(structure)).hexdigest()


def document_hash(document: dict[str, Any]) -> str:
    """SHA-256 of a document's canonical JSON without its signature: what a log entry binds."""
    body = {k: v for k, v in document.items() if k != "signature"}
    return hashlib.sha256(canonical(body)).hexdigest()
