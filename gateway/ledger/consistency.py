"""RFC 6962 consistency proofs (section 2.1.2) from the old tree's frontier and the newer leaves.

A witness that last cosigned size m asks for PROOF(m, D[n]). Every node of that proof lies either
wholly inside the old tree, and is then one of the perfect subtrees of m's frontier (which the
ledger stored with the checkpoint of size m), or wholly among the leaves m..n-1 (read from the log).
So a proof costs reading the n - m leaves since the witness's last checkpoint, never the whole
log, and still works after the entries before m were pruned.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from gateway.ledger.tree import CompactTree, subtree_sizes

# Leaf hashes of the leaves with 0-based indices start..end-1, in order.
LeafSource = Callable[[int, int], Iterable[bytes]]


class ProofUnavailable(ValueError):
    """The proof needs something the ledger no longer has (e.g. the old size's frontier)."""


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def consistency_proof(old: int, new: int, old_frontier: Sequence[bytes], leaves: LeafSource) -> list[bytes]:
    if not 0 <= old <= new:
        raise ProofUnavailable(f"no proof from size {old} to the smaller size {new}")
    if old == 0 or old == new:
        return []
    sizes = subtree_sizes(old)
    if len(sizes) != len(old_frontier):
        raise ProofUnavailable(f"the frontier of size {old} has {len(sizes)} hashes, not {len(old_frontier)}")
    known: dict[tuple[int, int], bytes] = {}
    start = 0
    for size, node in zip(sizes, old_frontier, strict=True):
        known[(start, size)] = node
        start += size

    def mth(start: int, size: int) -> bytes:
        if start + size <= old:
            try:
                return known[(start, size)]
            except KeyError:  # RFC 6962's recursion only asks for frontier nodes inside the old tree
                raise ProofUnavailable(f"no stored node for leaves {start}..{start + size - 1}") from None
        if start < old:
            raise ProofUnavailable(f"leaves {start}..{start + size - 1} straddle the old size {old}")
        tree = CompactTree()
        count = 0
        for leaf in leaves(start, start + size):
            tree.add(leaf)
            count += 1
        if count != size:
            raise ProofUnavailable(f"the log has {count} of the leaves {start}..{start + size - 1}")
        return tree.root()

    def subproof(m: int, start: int, n: int, complete: bool) -> list[bytes]:
        if m == n:
            return [] if complete else [mth(start, n)]
        k = _split(n)
        if m <= k:
            return subproof(m, start, k, complete) + [mth(start + k, n - k)]
        return subproof(m - k, start + k, n - k, False) + [mth(start, k)]

    return subproof(old, 0, new, True)
