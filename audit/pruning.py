"""Pruning statements (FORMAT.md, log/prunings.jsonl): what the gateway removed from the log.

A log may begin after entry 1 only when a chain of trusted, signed statements accounts for every
entry before it. Statements are checked in order; each must be signed by a trusted key, carry a
trusted checkpoint at its cut whose head is the statement's head, start right after the previous
statement's range, and link to it by hash. The verifier starts the log from the last statement it
accepted; once one statement fails, no later statement is accepted, so whatever they claim to
cover is reported as entries missing (`log-tampered`) besides the statement's own failure.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit import checkpoint as c2sp
from audit import jcs
from audit.bundle import PRUNING_LINE_CAP, PRUNINGS, PRUNINGS_CAP, Hasher, ReadError, iter_lines
from audit.chain import ZERO, Log, checkpoint_problem
from audit.keys import TrustedKeys
from audit.note import NoteError
from audit.note import parse as parse_note
from audit.note import verify as verify_note
from audit.result import FailureKind, Failures
from audit.tlog import CompactTree, ProofError
from audit.tree_heads import gateway_verifiers

ACTION = "log.prune"
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}\Z")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")


@dataclass(frozen=True)
class Statement:
    line: int
    id: str
    first: int
    last: int
    head: str
    log_seq: int
    issued_at: str
    sha256: str  # of the canonical statement without its signature: what its log entry binds
    entries: int
    accepted: bool

    def to_json(self) -> dict[str, Any]:
        return {"statement": self.id, "first": self.first, "last": self.last, "entries": self.entries,
                "issued_at": self.issued_at, "log_seq": self.log_seq, "accepted": self.accepted}


@dataclass
class Prunings:
    statements: list[Statement] = field(default_factory=list)
    base: int = 0                       # last entry covered by the accepted statements
    base_head: str = ZERO               # its hash: the first remaining entry's prev
    base_checkpoint: str | None = None  # node hash of the checkpoint at the cut (format 1)
    base_frontier: list[bytes] | None = None  # Merkle frontier of entries 1..base (format 2)
    by_id: dict[str, Statement] = field(default_factory=dict)


def _hex(value: Any) -> bool:
    return type(value) is str and _HEX64.match(value) is not None


def _int(value: Any, minimum: int = 1) -> bool:
    return type(value) is int and minimum <= value <= jcs.MAX_SAFE_INTEGER


def statement_problem(value: Any) -> str | None:
    if type(value) is not dict:
        return "not a JSON object"
    if value.get("type") != "log-pruning":
        return "type is not 'log-pruning'"
    if type(value.get("id")) is not str or not _ID.match(value["id"]):
        return "id is not a plain identifier"
    if type(value.get("installation")) is not str:
        return "installation is not a string"
    if not _int(value.get("log_seq")):
        return "log_seq is not a positive integer"
    if type(value.get("issued_at")) is not str or not _TIME.match(value["issued_at"]):
        return "issued_at is not an RFC 3339 UTC time with microseconds"
    r = value.get("range")
    if type(r) is not dict or not _int(r.get("first")) or not _int(r.get("last")) or r["last"] < r["first"]:
        return "range is not {first, last} with 1 <= first <= last"
    if value["log_seq"] <= r["last"]:
        return "log_seq is not after the range it removed"
    for name in ("first_prev", "head", "tree_hash"):
        if not _hex(value.get(name)):
            return f"{name} is not 64 lowercase hex digits"
    if value.get("prev", ...) is not None and not _hex(value.get("prev")):
        return "prev is neither null nor 64 lowercase hex digits"
    removed = value.get("removed")
    if type(removed) is not dict or not _int(removed.get("entries")):
        return "removed is not an object with a positive integer 'entries'"
    if removed["entries"] != r["last"] - r["first"] + 1:
        return f"removed.entries {removed['entries']} is not the size of the range {r['first']}–{r['last']}"
    if type(value.get("checkpoint")) is str:  # format 2: the C2SP note at the cut, and the tree's frontier
        frontier = value.get("frontier")
        if type(frontier) is not list or not all(_hex(h) for h in frontier) or len(frontier) > 64:
            return "frontier is not a list of 64-hex-digit hashes"
    elif type(value.get("checkpoint")) is not dict:
        return "checkpoint is neither an object nor a signed note"
    if "signature" not in value:
        return "no signature member"
    return None


def read_prunings(root: Path, hasher: Hasher, failures: Failures, trusted: TrustedKeys,
                  installation: str | None, origin: str | None = None) -> Prunings:
    out = Prunings()
    accepting = True
    previous_node: str | None = None
    fail = lambda where, detail, kind="log-tampered": failures.add(kind, PRUNINGS, where, detail)  # noqa: E731
    try:
        for lineno, raw in iter_lines(root, PRUNINGS, PRUNING_LINE_CAP, PRUNINGS_CAP, hasher):
            if raw is None:
                fail(lineno, f"line longer than {PRUNING_LINE_CAP} bytes")
                accepting, previous_node = False, None
                continue
            try:
                value, canon = jcs.loads_canonical_line(raw)
            except jcs.ParseError as exc:
                fail(lineno, f"not a pruning statement: {exc}")
                accepting, previous_node = False, hashlib.sha256(b"\x01" + raw).hexdigest()
                continue
            ok = True
            if canon is not None:
                fail(lineno, "pruning statement is not canonical JSON (RFC 8785)")
                ok = False
            node = hashlib.sha256(b"\x01" + (canon or raw)).hexdigest()
            problem = statement_problem(value)
            if problem is not None:
                fail(lineno, f"malformed pruning statement: {problem}")
                accepting, previous_node = False, node
                continue
            r, cp = value["range"], value["checkpoint"]
            if installation is not None and value["installation"] != installation:
                fail(lineno, f"installation {value['installation'][:80]!r} is not the manifest's {installation!r}")
                ok = False
            signature_problem = trusted.check_document(value)
            if signature_problem is not None:
                fail(lineno, f"pruning statement signature: {signature_problem}", "evidence-forged")
                ok = False
            frontier: list[bytes] | None = None
            if type(cp) is str:
                frontier, note_problem = _note_at_cut(cp, value, trusted, origin)
                if note_problem is not None:
                    fail(lineno, f"checkpoint at the cut: {note_problem[1]}", note_problem[0])
                    ok = False
            else:
                ok = _json_at_cut(cp, value, trusted, installation, lineno, fail) and ok
            if r["first"] != out.base + 1 or value["first_prev"] != out.base_head:
                where = "the log's first entry" if out.base == 0 else f"entry {out.base}, the previous statement's cut"
                fail(lineno, f"range starts at entry {r['first']} but should follow {where}"
                             " (a pruning statement was removed, inserted or reordered)")
                ok = False
            if value["prev"] != previous_node:
                fail(lineno, "prev is not " + ("null" if previous_node is None else
                                               f"the hash of statement line {lineno - 1}")
                     + " (a pruning statement was removed, inserted or reordered)")
                ok = False
            try:
                digest = hashlib.sha256(jcs.canonical(jcs.without(value, "signature"))).hexdigest()
            except (jcs.CanonicalError, RecursionError) as exc:
                fail(lineno, f"cannot be canonicalised: {exc}", "evidence-forged")
                digest, ok = "", False
            accepted = ok and accepting
            statement = Statement(lineno, value["id"], r["first"], r["last"], value["head"], value["log_seq"],
                                  value["issued_at"], digest, value["removed"]["entries"], accepted)
            out.statements.append(statement)
            out.by_id.setdefault(statement.id, statement)
            if accepted:
                out.base, out.base_head = r["last"], value["head"]
                if frontier is not None:
                    out.base_frontier, out.base_checkpoint = frontier, None
                else:
                    out.base_checkpoint = hashlib.sha256(b"\x01" + jcs.canonical(cp)).hexdigest()
            else:
                accepting = False
            previous_node = node
    except ReadError as exc:
        fail(None, str(exc))
    return out


def _json_at_cut(cp: Any, value: dict[str, Any], trusted: TrustedKeys, installation: str | None, lineno: int,
                 fail: Any) -> bool:
    """Format 1: the signed JSON checkpoint of size range.last, whose head is the statement's."""
    r = value["range"]
    cp_problem = checkpoint_problem(cp)
    if cp_problem is not None:
        fail(lineno, f"checkpoint at the cut is malformed: {cp_problem}")
        return False
    ok = True
    cp_signature = trusted.check_document(cp)
    if cp_signature is not None:
        fail(lineno, f"checkpoint at the cut: signature: {cp_signature}", "evidence-forged")
        ok = False
    if cp["size"] != r["last"] or cp["head"] != value["head"]:
        fail(lineno, f"the checkpoint at the cut (size {cp['size']}) does not sign entry {r['last']}"
                     " with the statement's head")
        ok = False
    if installation is not None and cp["installation"] != installation:
        fail(lineno, "the checkpoint at the cut names another installation")
        ok = False
    return ok


def _note_at_cut(text: str, value: dict[str, Any], trusted: TrustedKeys,
                 origin: str | None) -> tuple[list[bytes] | None, tuple[FailureKind, str] | None]:
    """Format 2: the gateway's C2SP checkpoint of size range.last, and the frontier whose fold is
    its root: the Merkle tree the remaining entries grow starts from that frontier."""
    last = value["range"]["last"]
    try:
        note = parse_note(text.encode("utf-8"))
        head = c2sp.parse(note.text)
    except (NoteError, c2sp.CheckpointError) as exc:
        return None, ("log-tampered", f"not a C2SP signed checkpoint: {exc}")
    if origin is not None and head.origin != origin:
        return None, ("log-tampered", f"origin {head.origin[:80]!r} is not the log's origin {origin!r}")
    try:
        if not verify_note(note, gateway_verifiers(head.origin, trusted)):
            return None, ("evidence-forged", "not signed by a trusted gateway key")
    except NoteError as exc:
        return None, ("evidence-forged", str(exc))
    if head.size != last:
        return None, ("log-tampered", f"its size {head.size} is not the cut {last}")
    frontier = [bytes.fromhex(h) for h in value["frontier"]]
    try:
        folded = CompactTree.from_frontier(last, frontier).root()
    except ProofError as exc:
        return None, ("log-tampered", f"frontier: {exc}")
    if folded != head.root:
        return None, ("log-tampered", "the frontier does not fold to the root the checkpoint signs")
    return frontier, None


def check_against_log(prunings: Prunings, log: Log, failures: Failures) -> None:
    """Each statement is bound by the `log.prune` entry that recorded it, unless a later prune
    removed that entry too; and an entry naming a statement must name one in the bundle."""
    for st in prunings.statements:
        if st.log_seq <= log.base or st.log_seq in log.redacted or not log.read:
            continue
        entry = log.notable.get(st.log_seq)
        if entry is None or entry.evidence_id != st.id:
            failures.add("evidence-forged", PRUNINGS, st.line,
                         f"pruning statement {st.id}: log entry {st.log_seq} does not record it")
        elif entry.evidence_sha256 != st.sha256:
            failures.add("evidence-forged", PRUNINGS, st.line,
                         f"pruning statement {st.id} differs from the one log entry {st.log_seq} recorded"
                         " (it was altered after it was logged)")
        elif entry.action != ACTION:
            failures.add("evidence-forged", PRUNINGS, st.line,
                         f"log entry {st.log_seq} that records statement {st.id} is a {entry.action!r},"
                         f" not a {ACTION!r}")
