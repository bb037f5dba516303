"""C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint): the text of a signed tree head.

```
<origin>
<tree size, decimal, no leading zeroes>
<base64 RFC 6962 root hash>
[extension lines, non-empty]
```
Read strictly: anything a second reader could parse differently is refused.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from audit.note import NoteError, b64, b64decode_strict

MAX_SIZE = (1 << 63) - 1
MAX_EXTENSIONS = 16
_SIZE = re.compile(r"(?:0|[1-9][0-9]{0,18})\Z")


class CheckpointError(ValueError):
    pass


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> bytes:
        lines = [self.origin, str(self.size), b64(self.root), *self.extensions]
        return ("\n".join(lines) + "\n").encode("utf-8")


def checkpoint(origin: str, size: int, root: bytes, extensions: tuple[str, ...] = ()) -> Checkpoint:
    cp = Checkpoint(origin, size, root, extensions)
    parse(cp.text())  # one set of rules for what we write and what we read
    return cp


def parse(text: bytes) -> Checkpoint:
    """The checkpoint in a note's text (including its final newline)."""
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckpointError("the checkpoint is not UTF-8") from None
    if not decoded.endswith("\n"):
        raise CheckpointError("the checkpoint text does not end in a newline")
    lines = decoded[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("a checkpoint has an origin, a tree size and a root hash line")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise CheckpointError("the origin line is empty")
    if not _SIZE.match(size_text) or int(size_text) > MAX_SIZE:
        raise CheckpointError("the tree size is not a decimal number without leading zeroes")
    try:
        root = b64decode_strict(root_text)
    except NoteError as exc:
        raise CheckpointError(f"the root hash is not base64: {exc}") from None
    if len(root) != 32:
        raise CheckpointError("the root hash is not 32 bytes (SHA-256)")
    if any(not line for line in extensions):
        raise CheckpointError("an extension line is empty")
    if len(extensions) > MAX_EXTENSIONS:
        raise CheckpointError(f"more than {MAX_EXTENSIONS} extension lines")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))
