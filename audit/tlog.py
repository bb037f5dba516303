"""RFC 6962 / RFC 9162 Merkle trees: tree hashes, and inclusion and consistency proofs.

The auditor verifies proofs and recomputes tree heads from the log it holds; the witness verifies
consistency proofs. Proof *generation* lives here too because the witness's and the auditor's tests
need a log to play against; the gateway keeps its own copy, since the auditor never imports it and
the gateway must not depend on the auditor either.

All hashes are raw 32-byte SHA-256 digests. Leaves are given as leaf hashes
(SHA-256(0x00 || data)), which is what the evidence log already stores for each entry.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof that does not verify; the message says which check failed."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2): where RFC 6962 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def _lsb(x: int) -> int:
    return x & 1


class CompactTree:
    """A tree grown one leaf at a time that can give its root at any size, in O(log n) memory.

    It keeps the roots of the perfect subtrees that cover the leaves so far (the "frontier", largest
    first), so the auditor can stream 300,000 entries once and still compare the root at every
    checkpoint size. A tree can also start from a frontier a pruning statement published.
    """

    def __init__(self) -> None:
        self._sizes: list[int] = []
        self._hashes: list[bytes] = []
        self.size = 0

    @classmethod
    def from_frontier(cls, size: int, frontier: Sequence[bytes]) -> CompactTree:
        """The tree of `size` leaves whose perfect subtrees have these roots, largest first."""
        sizes = [1 << b for b in range(size.bit_length() - 1, -1, -1) if size >> b & 1]
        if len(sizes) != len(frontier) or any(len(h) != HASH_SIZE for h in frontier):
            raise ProofError(f"a tree of {size} leaves has {len(sizes)} frontier hashes, not {len(frontier)}")
        tree = cls()
        tree._sizes, tree._hashes, tree.size = sizes, list(frontier), size
        return tree

    @property
    def frontier(self) -> list[bytes]:
        return list(self._hashes)

    def append(self, leaf: bytes) -> None:
        sizes, hashes = self._sizes, self._hashes
        sizes.append(1)
        hashes.append(leaf)
        while len(sizes) >= 2 and sizes[-1] == sizes[-2]:
            right = hashes.pop()
            sizes.pop()
            hashes[-1] = node_hash(hashes[-1], right)
            sizes[-1] *= 2
        self.size += 1

    def root(self) -> bytes:
        if not self._hashes:
            return EMPTY_ROOT
        root = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            root = node_hash(left, root)
        return root


def tree_hash(leaves: Iterable[bytes]) -> bytes:
    """MTH(D[n]) of RFC 6962 section 2.1 over leaf hashes."""
    tree = CompactTree()
    for leaf in leaves:
        tree.append(leaf)
    return tree.root()


# -- verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2) ------------------------------------

def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not inside a tree of size {size}")
    if len(leaf) != HASH_SIZE or any(len(p) != HASH_SIZE for p in proof):
        raise ProofError("a hash in the proof is not 32 bytes")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the path to the root")
        if _lsb(fn) or fn == sn:
            r = node_hash(p, r)
            if not _lsb(fn):
                while not _lsb(fn) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the path to the root")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError(f"leaf {index} is not in the tree of size {size} with this root")


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> None:
    """Raise ProofError unless `proof` shows the tree (size1, root1) is a prefix of (size2, root2)."""
    if not 0 <= size1 <= size2:
        raise ProofError(f"size {size2} is smaller than the earlier size {size1}: the tree went back")
    if any(len(p) != HASH_SIZE for p in proof):
        raise ProofError("a hash in the consistency proof is not 32 bytes")
    if size1 == size2:
        if proof:
            raise ProofError("a proof between trees of the same size must be empty")
        if root1 != root2:
            raise ProofError(f"two different roots for the same size {size1}: a fork")
        return
    if size1 == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # an exact power of two: the old root is itself a node of the new tree
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while _lsb(fn):
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than it can be for these sizes")
        if _lsb(fn) or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not _lsb(fn):
                while not _lsb(fn) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than it must be for these sizes")
    if fr != root1:
        raise ProofError(f"the proof does not lead to the earlier root at size {size1}")
    if sr != root2:
        raise ProofError(f"the proof does not lead to the new root at size {size2}")


# -- generation (RFC 6962 sections 2.1.1 and 2.1.2) --------------------------------------------

def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) for the tree over all of `leaves`."""
    if not 0 <= index < len(leaves):
        raise ProofError(f"leaf index {index} is not inside a tree of size {len(leaves)}")
    return _path(leaves, index)


def _path(leaves: Sequence[bytes], m: int) -> list[bytes]:
    n = len(leaves)
    if n <= 1:
        return []
    k = _split(n)
    if m < k:
        return _path(leaves[:k], m) + [tree_hash(leaves[k:])]
    return _path(leaves[k:], m - k) + [tree_hash(leaves[:k])]


def consistency_proof(leaves: Sequence[bytes], size1: int) -> list[bytes]:
    """PROOF(size1, D[n]) from the tree of the first size1 leaves to the tree over all of them."""
    if not 0 <= size1 <= len(leaves):
        raise ProofError(f"size {size1} is not between 0 and {len(leaves)}")
    if size1 == 0 or size1 == len(leaves):
        return []
    return _subproof(leaves, size1, True)


def _subproof(leaves: Sequence[bytes], m: int, complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [tree_hash(leaves)]
    k = _split(n)
    if m <= k:
        return _subproof(leaves[:k], m, complete) + [tree_hash(leaves[k:])]
    return _subproof(leaves[k:], m - k, False) + [tree_hash(leaves[:k])]
