"""Payloads that are not recipient files: scanned application forms as a PDF, a ZIP of scans.

Kurume FY2021 AI-OCR (seed 001): the city sends 申請書等 as PDF scans to the AI-OCR server. The
gateway cannot check columns there; it checks what it can: the type (by the file's own magic
bytes, not its name), the size, and the number of pages (PDF) or files (ZIP), which stands in for
the record count everywhere a count is checked (the approval's upper bound, the receipt).
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from gateway.errors import Invalid

MEDIA_TYPES = {"application/pdf": "pages", "application/zip": "files"}
_MAGIC = {b"%PDF-": "application/pdf", b"PK\x03\x04": "application/zip"}


@dataclass(frozen=True)
class Inspected:
    media_type: str
    unit: str  # pages | files
    count: int


def sniff(head: bytes) -> str | None:
    """The media type the first bytes say, or None."""
    return next((t for magic, t in _MAGIC.items() if head.startswith(magic)), None)


def inspect(f: BinaryIO, name: str) -> Inspected:
    """Type and count of an opaque payload (a seekable stream); a file that is neither a readable
    PDF nor ZIP is refused."""
    f.seek(0)
    media_type = sniff(f.read(8))
    f.seek(0)
    if media_type is None:
        raise Invalid(f"{name} は PDF でも ZIP でもありません。スキャンした PDF（又は ZIP）を送ってください。",
                      f"{name} is neither a PDF nor a ZIP file; send the scanned PDF (or a ZIP of scans).")
    try:
        count = _pages(f) if media_type == "application/pdf" else _files(f)
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise Invalid(f"{name} は壊れているため、ページ数・ファイル数を数えられません。",
                      f"{name} is damaged: its pages or files cannot be counted ({type(err).__name__}).") from None
    return Inspected(media_type, MEDIA_TYPES[media_type], count)


def _pages(f: BinaryIO) -> int:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        return len(PdfReader(f, strict=False).pages)
    except PyPdfError as err:
        raise ValueError(str(err)) from None


def _files(f: BinaryIO) -> int:
    with zipfile.ZipFile(f) as z:
        return sum(1 for i in z.infolist() if not i.is_dir())


def read_bounded(f: BinaryIO, limit: int) -> io.BytesIO | None:
    """The whole payload in memory (a PDF is read by seeking), or None when it exceeds `limit`:
    the approval's upper bound on its size keeps the memory bounded too."""
    data = f.read(limit + 1)
    return None if len(data) > limit else io.BytesIO(data)
