"""RFC 6962 Merkle trees against an independent implementation's vectors.

The leaf inputs, roots and proofs below are copied (values only) from
github.com/transparency-dev/merkle: testonly/constants.go (LeafInputs, RootHashes) and
proof/verify_test.go (inclusionProofs, consistencyProofs), which descend from the Certificate
Transparency reference implementation.
"""
from __future__ import annotations

import hashlib
import random

import pytest

from audit.tlog import (
    EMPTY_ROOT,
    CompactTree,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)

LEAF_INPUTS = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
ROOTS = [  # by tree size 1..8
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (leaf number counted from 1, tree size, proof)
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [  # (size1, size2, proof)
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]

LEAVES = [leaf_hash(bytes.fromhex(x)) for x in LEAF_INPUTS]
h = bytes.fromhex


def test_empty_tree_is_the_hash_of_nothing() -> None:
    assert tree_hash([]) == EMPTY_ROOT == h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_reference(size: int) -> None:
    assert tree_hash(LEAVES[:size]).hex() == ROOTS[size - 1]


@pytest.mark.parametrize("leaf,size,proof", INCLUSION)
def test_reference_inclusion_proofs_verify_and_are_what_we_generate(leaf: int, size: int, proof: list[str]) -> None:
    path = [h(p) for p in proof]
    verify_inclusion(leaf - 1, size, LEAVES[leaf - 1], path, h(ROOTS[size - 1]))
    assert inclusion_proof(LEAVES[:size], leaf - 1) == path


@pytest.mark.parametrize("size1,size2,proof", CONSISTENCY)
def test_reference_consistency_proofs_verify_and_are_what_we_generate(size1: int, size2: int, proof: list[str]) -> None:
    path = [h(p) for p in proof]
    verify_consistency(size1, size2, h(ROOTS[size1 - 1]), h(ROOTS[size2 - 1]), path)
    assert consistency_proof(LEAVES[:size2], size1) == path


def _corruptions(size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]):  # type: ignore[no-untyped-def]
    """The probes transparency-dev/merkle's verify_test.go throws at every known-good proof."""
    some = h("abacaba000000000000000000000000000000000000000000060061e00123456")
    yield size1 - 1, size2, root1, root2, proof
    yield size1 + 1, size2, root1, root2, proof
    yield size1 ^ 2, size2, root1, root2, proof
    yield size1, size2 * 2, root1, root2, proof
    yield size1, size2 // 2, root1, root2, proof
    yield size1, size2, some, root2, proof
    yield size1, size2, root1, some, proof
    yield size1, size2, root2, root1, proof
    yield size1, size2, root1, root2, []
    yield size1, size2, root1, root2, proof + [root1]
    yield size1, size2, root1, root2, proof + [root2]
    yield size1, size2, root1, root2, [root1] + proof
    yield size1, size2, root1, root2, [proof[0]] + proof
    yield size1, size2, root1, root2, proof[:-1]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([proof[i][0] ^ 16]) + proof[i][1:]
        yield size1, size2, root1, root2, flipped


@pytest.mark.parametrize("size1,size2,proof", [c for c in CONSISTENCY if c[2]])
def test_corrupted_consistency_proofs_fail(size1: int, size2: int, proof: list[str]) -> None:
    path = [h(p) for p in proof]
    for probe in _corruptions(size1, size2, h(ROOTS[size1 - 1]), h(ROOTS[size2 - 1]), path):
        with pytest.raises(ProofError):
            verify_consistency(*probe)


def test_same_size_needs_the_same_root_and_an_empty_proof() -> None:
    verify_consistency(3, 3, h(ROOTS[2]), h(ROOTS[2]), [])
    with pytest.raises(ProofError, match="fork"):
        verify_consistency(3, 3, h(ROOTS[2]), h(ROOTS[3]), [])
    with pytest.raises(ProofError):
        verify_consistency(3, 3, h(ROOTS[2]), h(ROOTS[2]), [EMPTY_ROOT])
    with pytest.raises(ProofError, match="went back"):
        verify_consistency(4, 3, h(ROOTS[3]), h(ROOTS[2]), [])
    verify_consistency(0, 5, EMPTY_ROOT, h(ROOTS[4]), [])


def test_generated_proofs_verify_for_every_pair_of_sizes() -> None:
    rng = random.Random(7)
    leaves = [leaf_hash(rng.randbytes(rng.randrange(40))) for _ in range(70)]
    roots = [tree_hash(leaves[:n]) for n in range(71)]
    for n in range(1, 71):
        for m in range(0, n + 1):
            verify_consistency(m, n, roots[m], roots[n], consistency_proof(leaves[:n], m))
        for i in range(n):
            verify_inclusion(i, n, leaves[i], inclusion_proof(leaves[:n], i), roots[n])


def test_compact_tree_gives_every_root_and_restarts_from_its_frontier() -> None:
    leaves = [hashlib.sha256(bytes([i])).digest() for i in range(100)]
    tree = CompactTree()
    for n, leaf in enumerate(leaves, 1):
        tree.append(leaf)
        assert tree.root() == tree_hash(leaves[:n])
        resumed = CompactTree.from_frontier(n, tree.frontier)
        for more in leaves[n:n + 9]:
            resumed.append(more)
        assert resumed.root() == tree_hash(leaves[:resumed.size])
    with pytest.raises(ProofError):
        CompactTree.from_frontier(7, [leaves[0], leaves[1]])  # 7 = 4 + 2 + 1 needs three hashes


def test_node_hash_is_rfc6962_interior() -> None:
    assert node_hash(LEAVES[0], LEAVES[1]).hex() == ROOTS[1]
