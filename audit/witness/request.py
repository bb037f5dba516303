"""The body of `POST /add-checkpoint` (c2sp.org/tlog-witness):

```
old <size>
<base64 hash>          zero to 63 consistency proof lines
                       an empty line
<checkpoint note>      the signed note, as the log signed it
```
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from audit.note import MAX_NOTE_BYTES, NoteError, b64decode_strict

MAX_PROOF_LINES = 63
MAX_BODY = 64 + MAX_PROOF_LINES * 46 + 1 + MAX_NOTE_BYTES
_OLD = re.compile(rb"old (0|[1-9][0-9]{0,18})\Z")


class RequestError(ValueError):
    pass


@dataclass(frozen=True)
class AddCheckpoint:
    old_size: int
    proof: tuple[bytes, ...]
    note: bytes


def parse(body: bytes) -> AddCheckpoint:
    if len(body) > MAX_BODY:
        raise RequestError(f"the request body is larger than {MAX_BODY} bytes")
    first, sep, rest = body.partition(b"\n")
    match = _OLD.match(first) if sep else None
    if match is None:
        raise RequestError("the body does not start with an 'old <size>' line")
    old_size = int(match[1])
    if old_size > (1 << 63) - 1:
        raise RequestError("the old size is out of range")
    proof: list[bytes] = []
    while True:
        line, sep, rest = rest.partition(b"\n")
        if not sep:
            raise RequestError("no empty line ends the consistency proof")
        if not line:
            break
        if len(proof) == MAX_PROOF_LINES:
            raise RequestError(f"more than {MAX_PROOF_LINES} consistency proof lines")
        try:
            node = b64decode_strict(line.decode("ascii"))
        except (UnicodeDecodeError, NoteError):
            raise RequestError(f"consistency proof line {len(proof) + 1} is not base64") from None
        if len(node) != 32:
            raise RequestError(f"consistency proof line {len(proof) + 1} is not a 32-byte hash")
        proof.append(node)
    if old_size == 0 and proof:
        raise RequestError("a proof from size 0 must be empty")
    return AddCheckpoint(old_size, tuple(proof), rest)
