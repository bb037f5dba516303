"""Sending an opaque payload (a PDF of scanned forms, a ZIP of scans) instead of a recipient file.

The gateway cannot check columns in a scan; it checks what the approval says it may: the type by
the file's own magic bytes, the size against `data.max_bytes`, and the pages (PDF) or files (ZIP)
against `data.max_records` (as the policy does for records). The bytes go into the package as they
are; the manifest records type, unit, count, size and SHA-256, so the receipt is checked as any other.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

from gateway.core.approvals import Approval
from gateway.core.records.manifest import Manifest
from gateway.core.records.opaque import inspect, read_bounded
from gateway.crypto.sealed import SealedFile
from gateway.errors import Invalid, TooLarge


def read_opaque(file: Path | SealedFile, approval: Approval, sink: BinaryIO) -> Manifest:
    """Check the payload and write it whole to `sink` (the package's encrypting writer)."""
    assert approval.max_bytes is not None  # an opaque approval always has it (approvals.py)
    name = file.name
    with file.open("rb") as f:
        data = read_bounded(f, approval.max_bytes)
    if data is None:
        raise TooLarge(f"{name} は承認の上限（{approval.max_bytes:,} バイト）を超えています。分けて送ってください。",
                       f"{name} is larger than the approval allows ({approval.max_bytes:,} bytes); split it.")
    got = inspect(data, name)
    if got.media_type not in approval.media_types:
        raise Invalid(f"{name} の種類（{got.media_type}）はこの承認で認められていません（{', '.join(approval.media_types)}）。",
                      f"{name} is {got.media_type}, which this approval does not allow "
                      f"({', '.join(approval.media_types)}).")
    raw = data.getbuffer()
    sink.write(raw)
    return Manifest(source_name=name, encoding="binary", columns=(), source_headers=(), record_count=got.count,
                    sha256=hashlib.sha256(raw).hexdigest(), size_bytes=len(raw), media_type=got.media_type,
                    unit=got.unit)
