"""Opening a recipient file: its bytes, its encoding, its header row, and the errors that say
what is wrong with one of them. Every reader of recipient files starts here (reader.py scans
and minimises the rows, rowcount.py counts them).
"""
from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from gateway.core.records.detect import PEEK_BYTES, detect_encoding
from gateway.core.records.errors import RecordFileError, shown_name
from gateway.core.records.fields import field_for_header, header_label
from gateway.core.records.linebound import DEFAULT_MAX_LINE_BYTES, LineBound
from gateway.core.records.manifest import Header
from gateway.core.records.streams import HashingReader, Prefixed
from gateway.core.records.values import RULES, Rule
from gateway.findings import Kind

CHUNK_CHARS = 1 << 18  # decoded text (or bytes) taken at a time by the line scans and the count
READ_BUFFER = 1 << 16

PathLike = str | os.PathLike[str]


@dataclass
class OpenRecords:
    path: PathLike
    header: Header
    rules: list[Rule]
    text: io.TextIOWrapper  # positioned after the header line
    hashing: HashingReader
    newline: str  # the file's line terminator, kept when writing the minimised copy


class StreamName(str):
    """The name of a source that cannot be read a second time."""


def _open_binary(path: PathLike) -> BinaryIO:
    """The file's bytes. A path that opens itself (a sealed upload, crypto/sealed.py, decrypting
    as it is read) is asked to; any other is opened as a file."""
    opener = getattr(path, "open", None)
    return opener("rb") if callable(opener) else open(path, "rb")


@contextlib.contextmanager
def open_records(
    path: PathLike, encoding: str | None, required: Collection[str], stream: HashingReader | None = None,
    max_line: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[OpenRecords]:
    with contextlib.ExitStack() as stack:
        if stream is None:
            try:
                f = stack.enter_context(_open_binary(path))
            except OSError as err:  # missing, a directory, unreadable: the person named the wrong file
                raise RecordFileError(
                    path, f"ファイルを開けません（{err.strerror}）。ファイル名と場所を確認してください。",
                    f"cannot open the file ({err.strerror}); check its name and location.",
                ) from None
            peek = f.read(PEEK_BYTES)
            hashing = HashingReader(f)
        else:
            peek = read_up_to(stream, PEEK_BYTES)
            hashing = stream
        if not peek.strip(codecs.BOM_UTF8 + b" \t\r\n"):
            raise RecordFileError(
                path, "ファイルが空です。基幹システムからの出力を確認してください。",
                "the file is empty; check the export from the core system.",
            )
        codec = detect_encoding(peek, encoding, path)
        if stream is None:
            f.seek(0)
            raw: io.RawIOBase = hashing
        else:
            raw = Prefixed(peek, stream)  # the peeked bytes were hashed once already, as read
        # Under the decoder: a line longer than the limit is refused as it is read, before any
        # reader above holds it whole (memory is bounded by the limit, not by the input).
        named: list[tuple[str, ...]] = [()]
        raw = LineBound(raw, max_line, path, lambda: named[0])
        text = io.TextIOWrapper(
            io.BufferedReader(raw, READ_BUFFER), encoding=codec, errors="strict", newline=""
        )
        try:
            first = text.readline()
        except UnicodeDecodeError:
            raise undecodable(path, codec) from None
        header = parse_header(path, codec, first, required)
        named[0] = header.source_headers
        newline = "\r\n" if b"\r\n" in peek.split(b"\n", 1)[0] + b"\n" else "\n"
        yield OpenRecords(path, header, [RULES[c] for c in header.columns], text, hashing, newline)


def read_up_to(stream: io.RawIOBase, size: int) -> bytes:
    parts, got = [], 0
    while got < size and (data := stream.read(size - got)):
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def parse_header(path: PathLike, codec: str, line: str, required: Collection[str]) -> Header:
    """The file's first line (decoded) as a recipient file's header, or the refusal saying why not."""
    try:
        cells = next(csv.reader([line]), None)
    except csv.Error:
        raise not_csv(path, 1) from None
    if not cells or not any(cell.strip() for cell in cells):
        raise RecordFileError(path, "1行目に見出し（項目名）がありません。", "row 1 holds no column headers.", row=1)
    headers = tuple(c.strip().lstrip("\ufeff") for c in cells)
    columns = [field_for_header(h) for h in headers]
    if not any(columns):
        # Do not quote the cells: a file without a header row has a person's data in row 1.
        raise RecordFileError(
            path,
            "1行目に宛名ファイルの見出しが見つかりません（CSV の宛名ファイルではないか、見出し行がありません）。",
            "row 1 holds no recognised recipient-file header (not a recipient CSV, or the header row is missing).",
            row=1,
        )
    for h, c in zip(headers, columns, strict=False):
        if c is None:
            raise RecordFileError(
                path,
                f"見出し「{h}」はどの項目にも対応しません。この列を除いて出力し直してください。",
                f"the column '{h}' maps to no known field; export the file without it.",
                row=1, column=h, kind=Kind.UNAPPROVED_FIELD,
            )
    seen: dict[str, str] = {}
    for h, c in zip(headers, columns, strict=False):
        assert c is not None
        if c in seen:
            raise RecordFileError(
                path,
                f"見出し「{seen[c]}」と「{h}」は同じ項目（{header_label(c)}）です。どちらか一方にしてください。",
                f"the columns '{seen[c]}' and '{h}' are the same field ({c}); keep only one.",
                row=1, column=h, field=c,
            )
        seen[c] = h
    for f in required:
        if f not in seen:
            raise RecordFileError(
                path,
                f"必要な列「{header_label(f)}」がありません。",
                f"the required column {header_label(f)} ({f}) is missing.",
                row=1, column=header_label(f), field=f,
            )
    return Header(
        source_name=shown_name(path),
        encoding=codec,
        columns=tuple(c for c in columns if c is not None),
        source_headers=headers,
    )


def not_csv(path: PathLike, row: int | None) -> RecordFileError:
    return RecordFileError(
        path,
        "CSV として読めません（引用符の対応や項目の長さを確認してください）。",
        "cannot be read as CSV (check quotes and field lengths).",
        row=row,
    )


def undecodable(path: PathLike, codec: str) -> RecordFileError:
    """Locate the first undecodable byte by a second, error-path-only pass over the raw bytes."""
    name = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "cp932": "CP932 (Shift_JIS)"}.get(codec, codec)
    if isinstance(path, StreamName):
        return RecordFileError(
            path, f"{name} として読めないバイトがあります。文字コードを確認して出力し直してください。",
            f"a byte is not valid {name}; check the encoding and export the file again.",
        )
    offset, line = _first_bad_byte(path, codec)
    return RecordFileError(
        path,
        f"{name} として読めないバイトがあります（{offset} バイト目）。文字コードを確認して出力し直してください。",
        f"a byte at offset {offset} is not valid {name}; check the encoding and export the file again.",
        row=line,
    )


def _first_bad_byte(path: PathLike, codec: str) -> tuple[int, int]:
    """(byte offset, 1-based line) of the first byte ``codec`` cannot decode."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    end = 0  # bytes fed to the decoder so far
    bad = None
    with open(path, "rb") as f:
        while bad is None:
            chunk = f.read(READ_BUFFER)
            end += len(chunk)
            try:
                decoder.decode(chunk, not chunk)
            except UnicodeDecodeError as err:
                # err.object holds the bytes held back from earlier chunks followed by this one.
                bad = max(0, end - len(err.object) + err.start)
            if not chunk:
                break
        if bad is None:
            return end, 1
        f.seek(0)
        lines, left = 1, bad
        while left > 0:
            part = f.read(min(left, READ_BUFFER))
            if not part:
                break
            lines += part.count(b"\n")
            left -= len(part)
    return bad, lines
