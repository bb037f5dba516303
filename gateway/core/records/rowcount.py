"""The count of a recipient file's records that a contractor's receipt attests (rows, not cells)."""
from __future__ import annotations

import csv
import io

from gateway.core.records.detect import PEEK_BYTES, detect_encoding
from gateway.core.records.linebound import DEFAULT_MAX_LINE_BYTES, line_too_long
from gateway.core.records.opening import (
    CHUNK_CHARS,
    READ_BUFFER,
    StreamName,
    not_csv,
    parse_header,
    read_up_to,
    undecodable,
)
from gateway.core.records.streams import Prefixed


def count_stream(stream: io.RawIOBase, name: str, *, max_line: int = DEFAULT_MAX_LINE_BYTES) -> int:
    """The records of a recipient file that is being read once, front to back, by someone else
    as well (the plaintext coming out of a decryption): the rows after a recipient file's header,
    as a CSV reader reads them (blank lines skipped). Only the header is decoded and checked: this
    is the count a contractor's receipt attests, of a file the gateway validated row by row before
    it encrypted it, and the receipt's SHA-256, which the gateway compares with its manifest, says
    whether it is that file. Checking every cell again cost the contractor half a second per
    300,000 records after the key derivation, and refused to count a file with one bad cell.

    Counted on the bytes: in UTF-8 and CP932, the two encodings a file is read in (detect.py),
    no byte of a multi-byte character is a line feed, carriage return or double quote. A chunk
    with a quote or a carriage return outside CRLF goes to csv.reader from there on.
    Raises RecordFileError when the header is not a recipient file's, a line is longer than
    ``max_line``, or (csv.reader's way) a byte does not decode; then the caller drains ``stream``."""
    path = StreamName(name)
    peek = read_up_to(stream, PEEK_BYTES)
    codec = detect_encoding(peek, None, path)
    end = peek.find(b"\n") + 1
    if not end:
        raise not_csv(path, 1)
    try:
        first = peek[:end].decode(codec)
    except UnicodeDecodeError:
        raise undecodable(path, codec) from None
    parse_header(path, codec, first, ())
    count, carry, chunk = 0, b"", peek[end:]
    while True:
        data = carry + chunk
        cut = data.rfind(b"\n") + 1 if chunk else len(data)  # at the end, the last line has no break
        body, carry = data[:cut], data[cut:]
        if len(carry) > max_line:
            raise line_too_long(path, max_line)
        if b'"' in body or body.count(b"\r") != body.count(b"\r\n"):
            rest = io.TextIOWrapper(io.BufferedReader(Prefixed(body + carry, stream), READ_BUFFER),
                                    encoding=codec, errors="strict", newline="")
            try:
                return count + sum(1 for row in csv.reader(rest) if row)
            except UnicodeDecodeError:
                raise undecodable(path, codec) from None
            except csv.Error:
                raise not_csv(path, None) from None
        if not chunk or b"\n\n" in body or b"\n\r\n" in body or body.startswith((b"\n", b"\r\n")):
            count += sum(1 for line in body.split(b"\n") if line not in (b"", b"\r"))
        else:
            count += body.count(b"\n")
        if not chunk:
            return count
        chunk = stream.read(CHUNK_CHARS)
