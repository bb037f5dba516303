"""The RFC 6962 Merkle tree hash of a run of log entries, as the auditor and the witnesses compute it."""
from __future__ import annotations

import hashlib


class TreeHash:
    """RFC 6962 Merkle tree hash over leaf hashes given one at a time (O(log n) memory)."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (size, hash) of perfect subtrees, largest first

    def add(self, leaf_hex: str) -> None:
        size, node = 1, bytes.fromhex(leaf_hex)
        while self._stack and self._stack[-1][0] == size:
            left = self._stack.pop()[1]
            node = hashlib.sha256(b"\x01" + left + node).digest()
            size *= 2
        self._stack.append((size, node))

    def hexdigest(self) -> str:
        if not self._stack:
            return hashlib.sha256(b"").hexdigest()
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = hashlib.sha256(b"\x01" + left + node).digest()
        return node.hex()

