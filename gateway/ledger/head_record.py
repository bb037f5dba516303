"""The last known head of the log, kept in the home outside the database.

If the database is emptied or replaced, the log it held is gone with it, and `gateway init` would
start a new chain that nobody could tell from the first. This small file remembers how far the
log had come (installation, size, head hash, time), so that a re-initialisation can name the
head it cuts off, in a signed entry of the new log. It is written after a command that changed
the log and on `serve`'s maintenance timer; it is a memory, not evidence (the operator may name
the previous head instead, from a bundle or a witness).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.fsutil import atomic_output

FILE = "log-head.json"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class KnownHead:
    installation: str | None
    size: int
    head: str
    at: str | None
    source: str  # "home record" (this file), "operator" (--previous-head), "unknown"
    mode: str | None = None  # "production" or "rehearsal", as the home record says

    def to_json(self) -> dict[str, Any]:
        return {"installation": self.installation, "size": self.size, "head": self.head, "at": self.at,
                "source": self.source}


def write(home_root: Path, *, installation: str, size: int, head: str, at: str, mode: str) -> None:
    body = {"installation": installation, "size": size, "head": head, "at": at, "mode": mode}
    with atomic_output(home_root / FILE) as out:
        out.write(json.dumps(body, sort_keys=True).encode("ascii") + b"\n")


def read(home_root: Path) -> KnownHead | None:
    """The recorded head, or None if there is none or it cannot be read (then the operator names it)."""
    try:
        body = json.loads((home_root / FILE).read_text(encoding="ascii"))
    except (OSError, ValueError):
        return None
    if not isinstance(body, dict) or type(body.get("size")) is not int or not _HEX64.match(str(body.get("head"))):
        return None
    installation = body.get("installation")
    at = body.get("at")
    mode = body.get("mode")
    return KnownHead(installation if isinstance(installation, str) else None, body["size"], body["head"],
                     at if isinstance(at, str) else None, "home record",
                     mode if mode in ("production", "rehearsal") else None)


def parse_operator(value: str) -> KnownHead:
    """`--previous-head SIZE:HASH` as the operator read it from a bundle or a witness, or `unknown`."""
    from gateway.errors import Invalid

    if value.strip().lower() == "unknown":
        return KnownHead(None, 0, "", None, "unknown")
    size, _, head = value.partition(":")
    if not size.isdigit() or not _HEX64.match(head.strip().lower()):
        raise Invalid("--previous-head は「件数:ハッシュ（16 進 64 文字）」又は unknown で指定してください。",
                      "--previous-head takes SIZE:HASH (64 hex digits), or unknown.")
    return KnownHead(None, int(size), head.strip().lower(), None, "operator")
