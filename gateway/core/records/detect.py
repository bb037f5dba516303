"""Which text encoding a recipient file is in: UTF-8 (with or without BOM) or CP932 (Shift_JIS)."""
from __future__ import annotations

import codecs
import os

from gateway.core.records.errors import RecordFileError

PEEK_BYTES = 1 << 16

_ALIASES = {
    # Windows core systems label CP932 files "Shift_JIS"; Python's strict shift_jis would refuse
    # their NEC/IBM extension characters (①, 髙), which real exports contain.
    "shift_jis": "cp932",
    "ms932": "cp932",
    "utf_8": "utf-8",
    "utf_8_sig": "utf-8-sig",
}


def canonical_codec(name: str, file: str | os.PathLike[str]) -> str:
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise RecordFileError(
            file, f"文字コード「{name}」は扱えません（UTF-8 または CP932/Shift_JIS）。",
            f"unknown encoding '{name}' (use UTF-8 or CP932/Shift_JIS).",
        ) from None
    return _ALIASES.get(codec.replace("-", "_"), codec)


def detect_encoding(peek: bytes, explicit: str | None, file: str | os.PathLike[str]) -> str:
    """The codec to read with, from the first PEEK_BYTES of the file.

    A BOM means UTF-8; otherwise the block must decode as strict UTF-8, else it is taken as CP932.
    An explicit encoding wins (UTF-8 with a BOM present reads as utf-8-sig so the BOM is not data).
    Raises RecordFileError for binary data (NUL bytes, or neither encoding gets past the first line).
    """
    bom = peek.startswith(codecs.BOM_UTF8)
    if explicit is not None:
        codec = canonical_codec(explicit, file)
        return "utf-8-sig" if codec == "utf-8" and bom else codec
    if bom:
        return "utf-8-sig"
    if b"\x00" in peek:
        raise _binary(file)
    final = len(peek) < PEEK_BYTES
    reach: dict[str, int] = {}
    for codec in ("utf-8", "cp932"):
        try:
            codecs.getincrementaldecoder(codec)("strict").decode(peek, final)
            return codec
        except UnicodeDecodeError as err:
            reach[codec] = err.start
    # Neither decodes the whole block. If one gets past the header line, read with it and let the
    # row scan name the line of the bad byte; if neither does, this is not a text file.
    best = max(reach, key=lambda c: reach[c])
    if b"\n" not in peek[: reach[best]]:
        raise _binary(file)
    return best


def _binary(file: str | os.PathLike[str]) -> RecordFileError:
    return RecordFileError(
        file,
        "CSV テキストではありません（バイナリデータ、または UTF-8・Shift_JIS 以外の文字コードです）。"
        "基幹システムから CSV 形式で出力し直してください。",
        "not a CSV text file (binary data, or an encoding other than UTF-8 or Shift_JIS); "
        "export it again from the core system as CSV.",
    )
