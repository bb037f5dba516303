"""The RFC 6962 Merkle tree over the log's leaf hashes, kept as its frontier.

The frontier is the list of roots of the perfect subtrees that cover the leaves so far, largest
first: one per 1-bit of the tree size, so at most 64 hashes whatever the log's length. Appending a
leaf merges equal-sized subtrees (amortised one hash per leaf), and the root is the frontier folded
right to left. That is all the ledger needs to sign a C2SP checkpoint at any size without reading
the log again, and what a pruning statement publishes so a verifier can grow the tree past a cut
(audit/FORMAT.md, "Pruning in format 2").

This is the gateway's own code: the auditor computes the same tree independently.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def subtree_sizes(size: int) -> list[int]:
    """The sizes of the perfect subtrees covering `size` leaves, largest first."""
    return [1 << b for b in range(size.bit_length() - 1, -1, -1) if size >> b & 1]


class CompactTree:
    """A Merkle tree grown one leaf at a time, in O(log n) memory."""

    def __init__(self, size: int = 0, frontier: Sequence[bytes] = ()) -> None:
        sizes = subtree_sizes(size)
        if len(sizes) != len(frontier) or any(len(h) != HASH_SIZE for h in frontier):
            raise ValueError(f"a tree of {size} leaves has {len(sizes)} frontier hashes, not {len(frontier)}")
        self.size = size
        self._sizes = sizes
        self._hashes = list(frontier)

    @classmethod
    def decode(cls, size: int, text: str) -> CompactTree:
        """The tree stored as its frontier's hex digests concatenated (how the ledger keeps it)."""
        if len(text) % (2 * HASH_SIZE):
            raise ValueError("a stored frontier is a whole number of 64-hex-digit hashes")
        step = 2 * HASH_SIZE
        return cls(size, [bytes.fromhex(text[i:i + step]) for i in range(0, len(text), step)])

    def encode(self) -> str:
        return "".join(h.hex() for h in self._hashes)

    @property
    def frontier(self) -> list[bytes]:
        return list(self._hashes)

    def add(self, leaf: bytes) -> None:
        """Append a leaf hash (SHA-256(0x00 || entry), as the log stores it)."""
        if len(leaf) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        sizes, hashes = self._sizes, self._hashes
        sizes.append(1)
        hashes.append(leaf)
        while len(sizes) >= 2 and sizes[-1] == sizes[-2]:
            right = hashes.pop()
            sizes.pop()
            hashes[-1] = node_hash(hashes[-1], right)
            sizes[-1] *= 2
        self.size += 1

    def add_hex(self, leaf_hex: str) -> None:
        self.add(bytes.fromhex(leaf_hex))

    def root(self) -> bytes:
        return fold(self._hashes)

    def hexdigest(self) -> str:
        return self.root().hex()

    def copy(self) -> CompactTree:
        return CompactTree(self.size, self._hashes)


def fold(frontier: Sequence[bytes]) -> bytes:
    """The root of the tree whose frontier this is: H(0x01 || left || root), right to left."""
    if not frontier:
        return EMPTY_ROOT
    root = frontier[-1]
    for left in reversed(frontier[:-1]):
        root = node_hash(left, root)
    return root


def tree_hash(leaves: Iterable[bytes]) -> bytes:
    """MTH over leaf hashes (RFC 6962, section 2.1)."""
    tree = CompactTree()
    for leaf in leaves:
        tree.add(leaf)
    return tree.root()
