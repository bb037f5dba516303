"""C2SP checkpoints of a format-2 bundle (FORMAT.md, checkpoints/<size>.note) and what they vouch for.

Each file is a signed note: a tlog-checkpoint (origin, size, RFC 6962 root over the log's leaf
hashes) signed by the gateway's key, plus the witnesses' tlog-cosignature/v1 lines. The auditor
checks that a trusted gateway key signed each one, that its root is the Merkle root it recomputes
from the log, and, when the trust policy asks for witnesses, that the log's every entry is covered
by a checkpoint a quorum of the policy's witnesses cosigned. Cosignatures by keys the policy does
not name are ignored, as the note spec says: a bundle cannot bring its own witnesses.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from audit import checkpoint as cp
from audit.bundle import TREE_HEADS, ReadError, read_capped
from audit.chain import Log
from audit.keys import TrustedKeys
from audit.note import MAX_NOTE_BYTES, SIG_ED25519, NoteError, VerifierKey, parse, valid_name, verifier_key, verify
from audit.result import Failures
from audit.trust import Policy

_FILE = re.compile(r"(0|[1-9][0-9]{0,18})\.note\Z")


@dataclass(frozen=True)
class TreeHead:
    file: str
    size: int
    root: bytes
    signed: bool                  # a trusted gateway key's signature verified
    cosigners: tuple[str, ...]    # the policy's witnesses whose cosignature verified
    cosigned_at: tuple[int, ...]  # their timestamps, in the same order

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "size": self.size, "signed": self.signed,
                "cosigners": list(self.cosigners), "cosigned_at": list(self.cosigned_at)}


def gateway_verifiers(origin: str, trusted: TrustedKeys) -> list[VerifierKey]:
    """The trusted evidence keys as C2SP note keys: the gateway signs checkpoints under its origin."""
    if not valid_name(origin):
        return []
    return [verifier_key(origin, SIG_ED25519, public.public_bytes_raw()) for public in trusted.keys.values()]


def read_tree_heads(root: Path, paths: Sequence[str], failures: Failures, trusted: TrustedKeys,
                    policy: Policy | None, actual: dict[str, tuple[str, int]]) -> tuple[str | None, list[TreeHead]]:
    """Every checkpoint file, checked on its own; returns the origin they name and the heads by size."""
    origin = policy.origin if policy else None
    witnesses = list(policy.witnesses) if policy else []
    heads: list[TreeHead] = []
    numbered: list[tuple[int, str]] = []
    for path in paths:
        m = _FILE.match(path[len(TREE_HEADS) + 1:])
        if m is None:
            failures.add("bundle", path, None, "a checkpoint file is named <tree size>.note, the size in decimal")
            continue
        numbered.append((int(m[1]), path))
    for size, path in sorted(numbered):
        fail = lambda detail, kind="log-tampered", path=path: failures.add(kind, path, None, detail)  # noqa: E731
        try:
            data = read_capped(root, path, MAX_NOTE_BYTES)
        except ReadError as exc:
            fail(str(exc))
            continue
        actual[path] = (hashlib.sha256(data).hexdigest(), len(data))
        try:
            note = parse(data)
            head = cp.parse(note.text)
        except (NoteError, cp.CheckpointError) as exc:
            fail(f"not a C2SP signed checkpoint: {exc}")
            continue
        if head.size != size:
            fail(f"the checkpoint's tree size is {head.size}, not the {size} its file name says")
            continue
        if origin is None:
            origin = head.origin  # no policy: the bundle's own word, for a consistency check only
        if head.origin != origin:
            fail(f"origin {head.origin[:80]!r} is not the log's origin {origin!r}")
            continue
        signed = False
        try:
            signed = bool(verify(note, gateway_verifiers(origin, trusted)))
            if not signed:
                fail("checkpoint signature: not signed by a trusted gateway key", "evidence-forged")
        except NoteError as exc:
            fail(f"checkpoint signature: {exc}", "evidence-forged")
        cosigners: list[str] = []
        times: list[int] = []
        for witness in witnesses:
            try:
                found = verify(note, [witness])
            except NoteError as exc:
                fail(f"cosignature of witness {witness.name}: {exc}", "evidence-forged")
                continue
            if found:
                cosigners.append(witness.name)
                times.append(found[0].timestamp or 0)
        heads.append(TreeHead(path, size, head.root, signed, tuple(cosigners), tuple(times)))
    return origin, heads


def check_against_log(heads: Sequence[TreeHead], log: Log, failures: Failures) -> set[int]:
    """Each head's root against the log's Merkle root at its size; returns the sizes that match."""
    matching: set[int] = set()
    if not log.read:
        return matching
    size = log.base + log.lines
    for head in heads:
        if head.size <= log.base:
            continue  # pruned: the pruning statement's own checkpoint vouched for the cut
        if head.size > size:
            failures.add("log-tampered", head.file, None,
                         f"the checkpoint covers {head.size} entries but the log holds {size}")
        elif log.roots_at.get(head.size) != head.root:
            failures.add("log-tampered", head.file, None,
                         f"the Merkle root of entries 1–{head.size} is not the root this checkpoint signs:"
                         " entries were altered, removed, inserted or reordered after it was signed")
        else:
            matching.add(head.size)
    covered = max((h.size for h in heads), default=0)
    if size > log.base and covered < size:
        failures.add("log-tampered", TREE_HEADS + "/", None,
                     f"entries {max(covered, log.base) + 1}–{size} are covered by no signed checkpoint")
    return matching


def check_witnessed(heads: Sequence[TreeHead], log: Log, policy: Policy | None, failures: Failures) -> int | None:
    """With a quorum in the policy: the entries past the last checkpoint a quorum cosigned.

    Returns the size of that checkpoint (None when the policy asks for no witnesses)."""
    if policy is None or policy.quorum == 0 or not log.read:
        return None
    size = log.base + log.lines
    # A head the witnesses vouched for counts as witnessed even when the log no longer matches its
    # root: that mismatch is log-tampered (check_against_log), and calling the same entries
    # unwitnessed too would blame the witnesses for an edit made after they cosigned.
    witnessed = [h for h in heads if h.signed and len(h.cosigners) >= policy.quorum]
    last = max((h.size for h in witnessed), default=0)
    if last < size:
        latest = max(heads, key=lambda h: h.size, default=None)
        carried = (f"; the latest checkpoint ({latest.size}) carries {len(latest.cosigners)} valid cosignature(s)"
                   f"{' from ' + ', '.join(latest.cosigners) if latest.cosigners else ''}") if latest else ""
        failures.add("log-unwitnessed", TREE_HEADS + "/", None,
                     f"entries {max(last, log.base) + 1}–{size} are past the last checkpoint that {policy.quorum}"
                     f" of the policy's witnesses cosigned" + (f" (size {last})" if last else " (none)") + carried)
    return last
