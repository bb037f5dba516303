"""The access log and its checkpoints (FORMAT.md, log/entries.jsonl and log/checkpoints.jsonl).

The log is the one part of a bundle that is large (300,000+ entries), so the common case runs
through a single strict regular expression that matches exactly the canonical JSON of a
well-formed entry; anything it does not match takes the slow path (full parse, canonical
re-encoding, schema check) and is either accepted there or named as a failure. The fast path is
an optimisation, never a relaxation: tests check that the two agree.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit import jcs
from audit.bundle import (
    CHECKPOINT_LINE_CAP,
    CHECKPOINTS,
    CHECKPOINTS_CAP,
    ENTRIES,
    ENTRIES_CAP,
    ENTRY_LINE_CAP,
    Hasher,
    ReadError,
    iter_lines,
)
from audit.keys import TrustedKeys
from audit.result import Failures
from audit.tlog import CompactTree

ZERO = "0" * 64
_NO_LEAF = bytes(32)  # stands in for a line too long to hash; that line is already a failure
CHANNELS = frozenset({"lgwan-asp", "vpn-sftp", "courier", "hotfolder", "cli", "system"})
OUTCOMES = frozenset({"ok", "refused", "failed"})
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")

# A JCS string: raw characters except quote, backslash and C0 controls; the short escapes; and
# \u00XX (lowercase) only for the controls without a short form. Unrolled so it never backtracks.
_S = rb'"[^"\\\x00-\x1f]*(?:\\(?:["\\bfnrt]|u00(?:0[0-7bef]|1[0-9a-f]))[^"\\\x00-\x1f]*)*"'
_N = rb"(?:null|" + _S + rb")"
_T = rb'"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z"'
_H = rb'"[0-9a-f]{64}"'
_FAST_ENTRY = re.compile(
    rb'\{"action":' + _S
    + rb',"actor":\{"org":' + _N + rb',"role":' + _N + rb',"ssh_key":' + _N + rb',"terminal":' + _N + rb',"user":' + _N
    + rb'\},"at":(' + _T + rb')'
    + rb',"channel":"(?:lgwan-asp|vpn-sftp|courier|hotfolder|cli|system)"'
    + rb',"evidence":(null|\{"id":' + _S + rb',"sha256":' + _H + rb'\})'
    + rb',"kinds":(\[(?:' + _S + rb'(?:,' + _S + rb')*)?\])'
    + rb'(?:,"node":' + _S + rb')?'  # the gateway node that appended it, in a multi-node log
    + rb',"object":\{"approval":' + _N + rb',"blob_sha256":' + _N + rb',"transfer":' + _N
    + rb'\},"outcome":"(ok|refused|failed)","prev":"([0-9a-f]{64})","reason":' + _N
    + rb',"seq":([1-9][0-9]{0,15}),"source":' + _N + rb"\}",
    re.S,
).fullmatch
_FAST_REDACTED = re.compile(rb'\{"hash":"([0-9a-f]{64})","redacted":true,"seq":([1-9][0-9]{0,15})\}').fullmatch


@dataclass(frozen=True)
class Entry:
    """The parts of an entry the evidence checks and the findings use (kept only when needed)."""
    seq: int
    line: int
    at: str
    action: str
    outcome: str
    approval: str | None
    transfer: str | None
    kinds: tuple[str, ...]
    reason: str | None
    evidence_id: str | None
    evidence_sha256: str | None
    actor_user: str | None
    actor_org: str | None
    channel: str


@dataclass(frozen=True)
class HomeEvent:
    """An entry about the log itself (FORMAT.md, "The home's own entries"): a rehearsal home, or
    a new log that replaced one whose database was lost."""
    seq: int
    at: str
    action: str
    reason: str | None
    evidence_id: str | None


@dataclass
class Log:
    lines: int = 0
    last_seq: int = 0
    head: str = ZERO
    base: int = 0  # entries up to this seq were pruned under accepted statements (audit/pruning.py)
    redacted: set[int] = field(default_factory=set)
    hashes_at: dict[int, str] = field(default_factory=dict)   # seq -> hash, for checkpoint sizes
    roots_at: dict[int, bytes] = field(default_factory=dict)  # tree size -> RFC 6962 root, for C2SP checkpoints
    notable: dict[int, Entry] = field(default_factory=dict)   # entries with evidence or kinds
    home: list[HomeEvent] = field(default_factory=list)      # home.rehearsal, home.reinitialise
    read: bool = False


@dataclass(frozen=True)
class Checkpoint:
    line: int
    size: int
    head: str
    at: str


def _entry_from(value: dict[str, Any], line: int) -> Entry:
    actor, obj, ev = value["actor"], value["object"], value["evidence"]
    return Entry(
        seq=value["seq"], line=line, at=value["at"], action=value["action"], outcome=value["outcome"],
        approval=obj["approval"], transfer=obj["transfer"], kinds=tuple(value["kinds"]), reason=value["reason"],
        evidence_id=ev["id"] if ev else None, evidence_sha256=ev["sha256"] if ev else None,
        actor_user=actor["user"], actor_org=actor["org"], channel=value["channel"],
    )


def _opt_str(value: Any) -> bool:
    return value is None or type(value) is str


def entry_problem(value: Any) -> str | None:
    """Why a parsed line is not a well-formed entry, or None. Unknown extra members are allowed."""
    if type(value) is not dict:
        return "entry is not a JSON object"
    seq = value.get("seq")
    if type(seq) is not int or seq < 1:
        return "seq is not a positive integer"
    for name in ("at", "actor", "source", "channel", "action", "object", "outcome", "kinds", "reason",
                 "evidence", "prev"):
        if name not in value:
            return f"member {name!r} is missing"
    if type(value["prev"]) is not str or not _HEX64.match(value["prev"]):
        return "prev is not 64 lowercase hex digits"
    if type(value["at"]) is not str or not _TIME.match(value["at"]):
        return "at is not an RFC 3339 UTC time with microseconds"
    actor = value["actor"]
    if type(actor) is not dict or not all(_opt_str(actor.get(k)) and k in actor
                                          for k in ("user", "org", "role", "terminal", "ssh_key")):
        return "actor is not {user, org, role, terminal, ssh_key} of strings or null"
    if not _opt_str(value["source"]):
        return "source is not a string or null"
    if value["channel"] not in CHANNELS:
        return f"channel {str(value['channel'])[:40]!r} is not one of {sorted(CHANNELS)}"
    if type(value["action"]) is not str or not value["action"]:
        return "action is not a non-empty string"
    obj = value["object"]
    if type(obj) is not dict or not all(_opt_str(obj.get(k)) and k in obj
                                        for k in ("approval", "transfer", "blob_sha256")):
        return "object is not {approval, transfer, blob_sha256} of strings or null"
    if value["outcome"] not in OUTCOMES:
        return f"outcome {str(value['outcome'])[:40]!r} is not ok, refused or failed"
    kinds = value["kinds"]
    if type(kinds) is not list or not all(type(k) is str for k in kinds):
        return "kinds is not a list of strings"
    if kinds and value["outcome"] != "refused":
        return "kinds is not empty although the outcome is not refused"
    if not _opt_str(value["reason"]):
        return "reason is not a string or null"
    ev = value["evidence"]
    if ev is not None:
        if type(ev) is not dict or type(ev.get("id")) is not str or not ev["id"]:
            return "evidence is not null or {id, sha256}"
        if type(ev.get("sha256")) is not str or not _HEX64.match(ev["sha256"]):
            return "evidence.sha256 is not 64 lowercase hex digits"
    return None


def read_checkpoints(root: Path, hasher: Hasher, failures: Failures, trusted: TrustedKeys,
                     installation: str | None, base_checkpoint: str | None = None) -> list[Checkpoint]:
    """Parse and check each checkpoint on its own and against the previous one.

    `base_checkpoint` is the node hash of the checkpoint at the cut of the last accepted pruning
    statement: the first remaining checkpoint links to it instead of being the first of all."""
    checkpoints: list[Checkpoint] = []
    previous_node: str | None = base_checkpoint
    previous_size = 0
    fail = lambda where, detail, kind="log-tampered": failures.add(kind, CHECKPOINTS, where, detail)  # noqa: E731
    try:
        lines: Iterator[tuple[int, bytes | None]] = iter_lines(root, CHECKPOINTS, CHECKPOINT_LINE_CAP,
                                                              CHECKPOINTS_CAP, hasher)
        for lineno, raw in lines:
            first = lineno == 1
            if raw is None:
                fail(lineno, f"line longer than {CHECKPOINT_LINE_CAP} bytes")
                previous_node = None
                continue
            try:
                value, canon = jcs.loads_canonical_line(raw)
            except jcs.ParseError as exc:
                fail(lineno, f"not a checkpoint: {exc}")
                previous_node = hashlib.sha256(b"\x01" + raw).hexdigest()
                continue
            if canon is not None:
                fail(lineno, "checkpoint is not canonical JSON (RFC 8785)")
            node = hashlib.sha256(b"\x01" + (canon or raw)).hexdigest()
            problem = checkpoint_problem(value)
            if problem is not None:
                fail(lineno, f"malformed checkpoint: {problem}")
                previous_node = node
                continue
            size = value["size"]
            if installation is not None and value["installation"] != installation:
                fail(lineno, f"installation {value['installation'][:80]!r} is not the manifest's {installation!r}")
            if first and base_checkpoint is None and value["prev"] is not None:
                fail(lineno, "first checkpoint's prev is not null (an earlier checkpoint was removed)")
            elif first and base_checkpoint is not None and value["prev"] != base_checkpoint:
                fail(lineno, "first checkpoint's prev is not the hash of the checkpoint in the last pruning"
                             " statement (a checkpoint after the cut was removed)")
            elif not first and value["prev"] != previous_node:
                fail(lineno, f"prev does not match the hash of checkpoint line {lineno - 1}"
                             " (a checkpoint was removed, inserted or reordered)")
            if size <= previous_size and not first:
                fail(lineno, f"size {size} does not grow beyond the previous checkpoint's {previous_size}")
            signature_problem = trusted.check_document(value)
            if signature_problem is not None:
                fail(lineno, f"checkpoint signature: {signature_problem}", "evidence-forged")
            checkpoints.append(Checkpoint(lineno, size, value["head"], value["at"]))
            previous_node, previous_size = node, max(size, previous_size)
    except ReadError as exc:
        fail(None, str(exc))
    return checkpoints


def checkpoint_problem(value: Any) -> str | None:
    if type(value) is not dict:
        return "not a JSON object"
    if value.get("type") != "checkpoint":
        return "type is not 'checkpoint'"
    if type(value.get("installation")) is not str:
        return "installation is not a string"
    if type(value.get("size")) is not int or value["size"] < 1:
        return "size is not a positive integer"
    if type(value.get("head")) is not str or not _HEX64.match(value["head"]):
        return "head is not 64 lowercase hex digits"
    prev = value.get("prev", ...)
    if prev is not None and (type(prev) is not str or not _HEX64.match(prev)):
        return "prev is neither null nor 64 lowercase hex digits"
    if type(value.get("at")) is not str or not _TIME.match(value["at"]):
        return "at is not an RFC 3339 UTC time with microseconds"
    return None


def read_entries(root: Path, hasher: Hasher, failures: Failures, *, scoped: bool,
                 wanted: set[int], base: int = 0, base_head: str = ZERO, tree: CompactTree | None = None) -> Log:
    """Stream the log once: sequence, links, canonical form; keep only what later checks need.

    `wanted` are the seqs whose hashes the checkpoints claim, so only those hashes are kept.
    `base` and `base_head` are the cut and head of the last accepted pruning statement: the log
    then starts at entry base + 1, linked to that head. With a `tree` (C2SP checkpoints, bundle
    format 2) every line's leaf hash also grows the RFC 6962 tree, and its root is kept at each
    wanted size: the tree counts lines, not the seqs they claim, so a renumbered log cannot
    borrow another entry's place.
    """
    log = Log(last_seq=base, head=base_head, base=base)
    expected_seq = base + 1
    prev_hash = base_head
    prev_seq_text = str(base)
    sha256 = hashlib.sha256
    fast_entry, fast_redacted = _FAST_ENTRY, _FAST_REDACTED
    fail = lambda where, detail: failures.add("log-tampered", ENTRIES, where, detail)  # noqa: E731
    lineno = 0
    last_at: bytes | None = None  # the time of the last entry that has one (redacted ones have none)
    last_at_seq: int | None = None
    try:
        for lineno, raw in iter_lines(root, ENTRIES, ENTRY_LINE_CAP, ENTRIES_CAP, hasher):
            seq: int | None = None
            prev: str | None = None
            at: bytes | None = None
            if raw is None:
                fail(lineno, f"line longer than {ENTRY_LINE_CAP} bytes")
                entry_hash = "?" * 64  # nothing can link to it
            else:
                m = fast_entry(raw)
                if m is not None and (raw.isascii() or _utf8(raw)):
                    seq = int(m[6])
                    prev = m[5].decode("ascii")
                    at = m[1]
                    entry_hash = sha256(b"\x00" + raw).hexdigest()
                    if m[2] != b"null" or m[3] != b"[]" or m[4] != b"ok":
                        log.notable[seq] = _entry_from(jcs.loads(raw), lineno)
                    if raw.startswith(HOME_PREFIX):
                        _home_event(log, jcs.loads(raw))
                else:
                    r = fast_redacted(raw)
                    at = None
                    if r is not None:
                        seq = int(r[2])
                        entry_hash = r[1].decode("ascii")
                        if not scoped:
                            fail(lineno, f"entry {seq} is redacted in a bundle not scoped to one approval")
                        log.redacted.add(seq)
                    else:
                        seq, prev, entry_hash, at = _slow_line(raw, lineno, log, fail, scoped)
            if seq is not None:
                if seq > jcs.MAX_SAFE_INTEGER:
                    fail(lineno, "seq is beyond ±(2^53−1)")
                elif seq != expected_seq:
                    if seq > expected_seq:
                        missing = f"entry {expected_seq}" if seq == expected_seq + 1 else \
                            f"entries {expected_seq}–{seq - 1}"
                        fail(lineno, f"seq {seq} follows {expected_seq - 1}: {missing} missing"
                             + (" (removed without a valid pruning statement)" if lineno == 1 else ""))
                    else:
                        fail(lineno, f"seq {seq} follows {expected_seq - 1}: repeated or out of order")
                expected_seq = seq + 1
                if seq in wanted and seq not in log.hashes_at:
                    log.hashes_at[seq] = entry_hash
                log.last_seq = seq
            if at is not None:
                # Time is evidence: entries never go back in time. A backdated entry (a clock set
                # back, a fake time in production) keeps a valid chain; only this shows it.
                if last_at is not None and at < last_at:
                    fail(lineno, f"entry {seq} is dated {at.decode()}, before entry {last_at_seq}"
                                 f" ({last_at.decode()}): the log's times go back (a backdated entry)")
                last_at, last_at_seq = at, seq
            if prev is not None and prev != prev_hash:
                if lineno == 1 and base == 0:
                    fail(lineno, "prev of the first entry is not 64 zeros (entries before it were removed)")
                elif lineno == 1:
                    fail(lineno, f"prev of the first entry is not the head of the last pruning statement"
                                 f" (entry {base}): entries after the cut were removed or altered")
                else:
                    fail(lineno, f"prev does not match hash of entry {prev_seq_text} (line {lineno - 1})")
            if tree is not None:
                tree.append(bytes.fromhex(entry_hash) if _HEX64.match(entry_hash) else _NO_LEAF)
                if tree.size in wanted:
                    log.roots_at[tree.size] = tree.root()
            prev_hash = entry_hash
            prev_seq_text = str(seq) if seq is not None else f"on line {lineno}"
        log.lines = lineno
        log.head = prev_hash
        log.read = True
    except ReadError as exc:
        fail(None, str(exc))
    return log


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _slow_line(raw: bytes, lineno: int, log: Log, fail: Any, scoped: bool) -> tuple[int | None, str | None, str, bytes | None]:
    """A line the fast path did not accept: name exactly what is wrong with it."""
    try:
        value, canon = jcs.loads_canonical_line(raw)
    except jcs.ParseError as exc:
        fail(lineno, f"not a JSON entry: {exc}")
        return None, None, hashlib.sha256(b"\x00" + raw).hexdigest(), None
    if canon is not None:
        fail(lineno, "entry is not canonical JSON (RFC 8785)")
    body = canon if canon is not None else raw
    if type(value) is dict and "redacted" in value:
        seq = value.get("seq")
        if value.get("redacted") is not True or set(value) != {"seq", "redacted", "hash"} \
                or type(seq) is not int or seq < 1 \
                or type(value.get("hash")) is not str or not _HEX64.match(value["hash"]):
            fail(lineno, "malformed redacted entry: expected exactly {seq, redacted: true, hash}")
            return (seq if type(seq) is int and seq >= 1 else None), None, hashlib.sha256(b"\x00" + body).hexdigest(), None
        if not scoped:
            fail(lineno, f"entry {seq} is redacted in a bundle not scoped to one approval")
        log.redacted.add(seq)
        return seq, None, value["hash"], None
    entry_hash = hashlib.sha256(b"\x00" + body).hexdigest()
    problem = entry_problem(value)
    if problem is not None:
        fail(lineno, f"malformed entry: {problem}")
        seq = value.get("seq") if type(value) is dict else None
        prev = value.get("prev") if type(value) is dict else None
        return (seq if type(seq) is int and seq >= 1 else None), (prev if type(prev) is str else None), entry_hash, None
    entry = _entry_from(value, lineno)
    if entry.evidence_id is not None or entry.kinds or entry.outcome != "ok":
        log.notable[entry.seq] = entry
    if entry.action.startswith(HOME_ACTIONS):
        _home_event(log, value)
    return value["seq"], value["prev"], entry_hash, value["at"].encode("ascii")


# Entries about the log itself, kept whatever their outcome. In canonical JSON "action" is the
# first member, so the fast path recognises them by a prefix of the line.
HOME_ACTIONS = "home."
HOME_PREFIX = b'{"action":"home.'


def _home_event(log: Log, value: dict[str, Any]) -> None:
    evidence = value.get("evidence")
    log.home.append(HomeEvent(value["seq"], value["at"], value["action"], value.get("reason"),
                              evidence.get("id") if isinstance(evidence, dict) else None))





def check_checkpoints_against_log(checkpoints: list[Checkpoint], log: Log, failures: Failures) -> None:
    for cp in checkpoints:
        where = cp.line
        if cp.size > log.last_seq or cp.size not in log.hashes_at:
            failures.add("log-tampered", CHECKPOINTS, where,
                         f"checkpoint covers entry {cp.size} but the log has no such entry"
                         f" (it ends at entry {log.last_seq})")
        elif log.hashes_at[cp.size] != cp.head:
            failures.add("log-tampered", CHECKPOINTS, where,
                         f"head is not the hash of entry {cp.size} (entries up to {cp.size} were altered)")
    if log.read and not checkpoints and log.lines:
        failures.add("log-tampered", CHECKPOINTS, None, "no checkpoint covers the log")
    elif checkpoints and log.read:
        last = checkpoints[-1]
        if last.size != log.last_seq:
            failures.add("log-tampered", CHECKPOINTS, last.line,
                         f"last checkpoint covers {last.size} entries but the log ends at entry {log.last_seq}")
        elif last.head != log.head:
            failures.add("log-tampered", ENTRIES, None,
                         f"head of the log differs from the last checkpoint's (line {last.line})")
