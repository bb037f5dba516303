"""The gateway's own C2SP notes, Merkle tree and consistency proofs, against the specs' and Go's
vectors and against the auditor's independent implementation (gateway.ledger never imports audit;
this test imports both, so each is the other's oracle).

Vectors (values copied, not code): golang.org/x/mod/sumdb/note note_test.go (PeterNeumann's
verifier key and the note Go signed with it); c2sp.org/tlog-checkpoint and tlog-cosignature (the
example checkpoint and its cosignature line).
"""
from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import checkpoint as audit_checkpoint
from audit import tlog
from audit.cosignature import Cosigner
from audit.note import generate_key, open_note
from audit.note import verifier_key as audit_verifier_key
from gateway.ledger.consistency import ProofUnavailable, consistency_proof
from gateway.ledger.note import (
    SIG_COSIGNATURE_V1,
    Checkpoint,
    NoteError,
    parse_checkpoint,
    parse_note,
    parse_signature_line,
    parse_verifier_key,
    sign_checkpoint,
    signed_by,
    verifier_key,
    verify_cosignature,
)
from gateway.ledger.tree import CompactTree, fold, tree_hash

PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = b"If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
SPEC_CHECKPOINT = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_COSIG = "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="


def leaves(n: int) -> list[bytes]:
    return [hashlib.sha256(b"\x00entry %d" % i).digest() for i in range(n)]


# -- notes: the specs' and Go's vectors ---------------------------------------------------------

def test_go_verifier_key_and_signature() -> None:
    key = parse_verifier_key(PETER_VKEY)
    assert (key.name, key.id.hex(), key.type) == ("PeterNeumann", "c74f20a3", 0x01)
    assert str(key) == PETER_VKEY
    note = parse_note(GO_TEXT + b"\n" + GO_SIG.encode())
    assert note.text == GO_TEXT and signed_by(note, [key]) == key
    forged = parse_note(GO_TEXT.replace(b"answer", b"solution") + b"\n" + GO_SIG.encode())
    with pytest.raises(NoteError, match="does not verify"):
        signed_by(forged, [key])
    for mangled in (PETER_VKEY.replace("c74f20a3", "c74f20a4"), PETER_VKEY[:-2], "PeterNeumann+c74f20a3"):
        with pytest.raises(NoteError):
            parse_verifier_key(mangled)


def test_spec_checkpoint_and_cosignature_line() -> None:
    head = parse_checkpoint(SPEC_CHECKPOINT)
    assert (head.origin, head.size) == ("example.com/behind-the-sofa", 20852163)
    assert head.text() == SPEC_CHECKPOINT
    sig = parse_signature_line(SPEC_COSIG)
    assert (sig.name, sig.key_id.hex()) == ("witness.example.com/w1", "8d66cf3f")
    assert int.from_bytes(sig.signature[:8], "big") == 1679315147  # the time the spec's message shows
    for bad in (b"o\n01\n" + SPEC_CHECKPOINT.split(b"\n")[2] + b"\n", SPEC_CHECKPOINT + b"ext\n", b"o\n1\nAAAA\n"):
        with pytest.raises(NoteError):
            parse_checkpoint(bad)


# -- notes: the gateway's against the auditor's --------------------------------------------------

def test_the_gateway_s_checkpoints_open_with_the_auditor_s_notes() -> None:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes_raw()
    origin = "kurume.example.jp/gateway"
    root = tree_hash(leaves(7))
    signed = sign_checkpoint(Checkpoint(origin, 7, root), private)
    ours = verifier_key(origin, public)
    theirs = audit_verifier_key(origin, 0x01, public)
    assert str(ours) == str(theirs)  # the same key id and verifier key string
    note, verified = open_note(signed.encode(), [theirs])
    assert audit_checkpoint.parse(note.text) == audit_checkpoint.checkpoint(origin, 7, root)
    assert signed_by(parse_note(signed.encode()), [ours]) == ours


def test_cosignatures_by_the_auditor_s_witness_verify_here_and_nothing_else_does() -> None:
    witness = Cosigner.from_signer(generate_key("council.example.jp/witness"))
    key = parse_verifier_key(str(witness.verifier))
    assert key.type == SIG_COSIGNATURE_V1
    text = Checkpoint("kurume.example.jp/gateway", 3, tree_hash(leaves(3))).text()
    line = witness.cosign(text, 1_765_000_000).line()
    assert verify_cosignature(key, text, parse_signature_line(line)) == 1_765_000_000
    other = Checkpoint("kurume.example.jp/gateway", 3, tree_hash(leaves(4)[1:])).text()
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(key, other, parse_signature_line(line))
    stranger = Cosigner.from_signer(generate_key("council.example.jp/witness"))
    with pytest.raises(NoteError, match="not by"):
        verify_cosignature(key, text, parse_signature_line(stranger.cosign(text, 1).line()))
    log_line = sign_checkpoint(Checkpoint("council.example.jp/witness", 3, tree_hash(leaves(3))),
                               Ed25519PrivateKey.generate()).split("\n")[-2]
    with pytest.raises(NoteError):  # a plain Ed25519 note signature is not a cosignature
        verify_cosignature(key, text, parse_signature_line(log_line))


# -- the tree and the proofs ----------------------------------------------------------------------

def test_the_compact_tree_is_rfc_6962_and_round_trips_its_frontier() -> None:
    data = leaves(300)
    tree = CompactTree()
    for n, leaf in enumerate(data, start=1):
        tree.add(leaf)
        assert tree.root() == tlog.tree_hash(data[:n])
        again = CompactTree.decode(n, tree.encode())
        assert again.frontier == tree.frontier == tlog.CompactTree.from_frontier(n, tree.frontier).frontier
        assert fold(again.frontier) == tree.root()
    assert CompactTree().root() == tlog.EMPTY_ROOT
    with pytest.raises(ValueError):
        CompactTree.decode(5, tree.encode())


def test_consistency_proofs_match_the_rfc_and_verify_for_every_pair_up_to_70() -> None:
    data = leaves(70)
    for new in range(71):
        for old in range(new + 1):
            front = CompactTree()
            for leaf in data[:old]:
                front.add(leaf)
            read: list[tuple[int, int]] = []

            def source(start: int, end: int) -> list[bytes]:
                assert start >= old, "only leaves after the old size are read"
                read.append((start, end))
                return data[start:end]

            proof = consistency_proof(old, new, front.frontier, source)
            assert proof == tlog.consistency_proof(data[:new], old)
            tlog.verify_consistency(old, new, tlog.tree_hash(data[:old]), tlog.tree_hash(data[:new]), proof)
            assert sum(e - s for s, e in read) <= new - old


def test_a_proof_from_a_size_without_its_frontier_is_refused() -> None:
    with pytest.raises(ProofUnavailable):
        consistency_proof(5, 9, [], lambda s, e: leaves(9)[s:e])
    with pytest.raises(ProofUnavailable):
        consistency_proof(9, 5, [], lambda s, e: [])
    with pytest.raises(ProofUnavailable, match="has 3 of"):  # leaves the log no longer holds
        consistency_proof(4, 8, CompactTree(4, [tree_hash(leaves(4))]).frontier, lambda s, e: leaves(7)[s:e])
    assert base64.b64encode(tree_hash([])).decode() == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
