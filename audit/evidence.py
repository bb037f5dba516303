"""Evidence documents: each one signed by a trusted key and bound to its own log entry.

A document proves something only if the log entry it names exists, is not redacted, and carries
this document's id and the SHA-256 of its canonical form; and every entry that names a document
must find it in the bundle. Either direction failing is `evidence-forged`.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from audit import jcs, timefmt
from audit.bundle import EVIDENCE_CAP, ReadError, read_capped
from audit.chain import Log
from audit.keys import TrustedKeys
from audit.result import Failures


@dataclass
class Document:
    id: str
    type: str
    approval: str | None
    transfer: str | None
    log_seq: int
    issued_at: datetime
    body: dict[str, Any]
    file: str
    trusted: bool = True   # False once any check on it failed; findings say so

    def get(self, name: str, default: Any = None) -> Any:
        return self.body.get(name, default)


Check = Callable[[Any], bool]


def _s(v: Any) -> bool:
    return type(v) is str


def _s_or_none(v: Any) -> bool:
    return v is None or type(v) is str


def _int(v: Any) -> bool:
    return type(v) is int and v >= 0


def _time(v: Any) -> bool:
    return timefmt.parse(v) is not None


def _time_or_none(v: Any) -> bool:
    return v is None or timefmt.parse(v) is not None


def _party(v: Any) -> bool:
    return type(v) is dict and all(_s_or_none(x) for x in v.values())


def _party_or_none(v: Any) -> bool:
    return v is None or _party(v)


def _manifest(v: Any) -> bool:
    return type(v) is dict and _int(v.get("record_count")) and _s(v.get("sha256"))


def _org(v: Any) -> bool:
    return type(v) is dict and _s(v.get("org"))


# Only what the findings read is required; other members are shown when present, never trusted
# for a decision. The gateway may add members (FORMAT.md), so unknown ones are ignored.
REQUIRED: dict[str, dict[str, Check]] = {
    "transfer": {"transfer": _s, "profile": _s, "channel": _s, "sender": _org, "recipient": _org,
                 "parent_transfer": _s_or_none, "manifest": _manifest, "sent_at": _time,
                 "receipt_due": _time_or_none, "gateway_erase_due": _time_or_none,
                 "contractor_deletion_due": _time_or_none},
    "password-notice": {"transfer": _s},
    "custody": {"transfer": _s, "item": _s, "item_kind": _s, "from": _party_or_none, "to": _party_or_none,
                "at": _time, "event": lambda v: v in ("handover", "return", "lost"),
                "return_due": _time_or_none},
    "receipt": {"transfer": _s, "record_count": _int, "sha256": _s, "matches": lambda v: type(v) is bool},
    "gateway-erasure": {"transfer": _s, "erased_at": _time},
    "incident": {"incident": _s, "event": _s},
    "recall": {"transfer": _s, "downloaded": lambda v: type(v) is bool, "recalled_by": _org},
    "second-check": {"transfer": _s, "decision": lambda v: v in ("approved", "rejected"), "checked_by": _org},
    "deletion-request": {"transfer": _s},
    "erasure-certificate": {"transfer": _s},
    "delivery": {"transfer": _s, "at": _time, "complete": lambda v: type(v) is bool},
    "duty-record": {"duty": _s, "on": _time},
    "condition-confirmation": {"condition": _int, "text_sha256": _s, "confirmed_by": _party},
}


def read_documents(root: Path, paths: list[str], failures: Failures, trusted: TrustedKeys, log: Log,
                   hashes: dict[str, tuple[str, int]], statements: Mapping[str, Any] | None = None) -> dict[str, Document]:
    """`statements` are the pruning statements by id (audit/pruning.py): an entry naming one of
    them is bound to it there, not to a document in evidence/."""
    documents: dict[str, Document] = {}
    for path in paths:
        doc_id = path[len("evidence/"):-len(".json")]
        try:
            data = read_capped(root, path, EVIDENCE_CAP)
        except ReadError as exc:
            failures.add("evidence-forged", path, None, str(exc))
            continue
        hashes[path] = (hashlib.sha256(data).hexdigest(), len(data))
        doc = _document(path, doc_id, data, failures, trusted, log)
        if doc is not None:
            documents[doc_id] = doc
    _entries_find_their_documents(documents, log, failures, statements or {})
    return documents


def _document(path: str, doc_id: str, data: bytes, failures: Failures, trusted: TrustedKeys,
              log: Log) -> Document | None:
    def fail(detail: str, kind: str = "evidence-forged") -> None:
        approval = value.get("approval") if type(value) is dict else None
        transfer = value.get("transfer") if type(value) is dict else None
        failures.add(kind, path, doc_id, detail,  # type: ignore[arg-type]
                     approval if type(approval) is str else None, transfer if type(transfer) is str else None)

    value: Any = None
    try:
        value = jcs.loads(data)
    except jcs.ParseError as exc:
        fail(f"not a JSON document: {exc}")
        return None
    if type(value) is not dict:
        fail("not a JSON object")
        return None
    common = _common_problem(value, doc_id)
    if common is not None:
        fail(f"malformed evidence document: {common}")
        return None
    doc_type = value["type"]
    for member, check in REQUIRED.get(doc_type, {}).items():
        if not check(value.get(member)):
            fail(f"malformed {doc_type} document: member {member!r} is missing or of the wrong type", "bundle")
            return None
    doc = Document(id=doc_id, type=doc_type, approval=value["approval"],
                   transfer=value.get("transfer") if type(value.get("transfer")) is str else None,
                   log_seq=value["log_seq"], issued_at=timefmt.parse(value["issued_at"]),  # type: ignore[arg-type]
                   body=value, file=path)
    problem = trusted.check_document(value)
    if problem is not None:
        fail(problem)
        doc.trusted = False
    try:
        digest = hashlib.sha256(jcs.canonical(jcs.without(value, "signature"))).hexdigest()
    except jcs.CanonicalError as exc:
        fail(f"cannot be canonicalised: {exc}")
        doc.trusted = False
        return doc
    entry = log.notable.get(doc.log_seq)
    if doc.log_seq <= log.base:
        fail(f"log entry {doc.log_seq} was pruned (a pruning statement covers it); a document pruned"
             " with its entry cannot be in the bundle")
        doc.trusted = False
    elif doc.log_seq in log.redacted:
        fail(f"log entry {doc.log_seq} is redacted in this bundle; the document cannot refer to it")
        doc.trusted = False
    elif entry is None or entry.evidence_id is None:
        fail(f"log entry {doc.log_seq} does not exist or names no evidence document")
        doc.trusted = False
    elif entry.evidence_id != doc_id:
        fail(f"log entry {doc.log_seq} names evidence {entry.evidence_id!r}, not this document")
        doc.trusted = False
    elif entry.evidence_sha256 != digest:
        fail(f"SHA-256 {digest[:16]}… differs from the one log entry {doc.log_seq} recorded"
             f" ({entry.evidence_sha256[:16]}…): the document was altered after it was logged")  # type: ignore[index]
        doc.trusted = False
    return doc


def _common_problem(value: dict[str, Any], doc_id: str) -> str | None:
    if type(value.get("type")) is not str or not value["type"]:
        return "type is not a non-empty string"
    if value.get("id") != doc_id:
        return f"id {str(value.get('id'))[:80]!r} is not the file name {doc_id!r}"
    if not _s_or_none(value.get("approval", 0)):
        return "approval is not a string or null"
    if type(value.get("log_seq")) is not int or value["log_seq"] < 1:
        return "log_seq is not a positive integer"
    if timefmt.parse(value.get("issued_at")) is None:
        return "issued_at is not an RFC 3339 UTC time with microseconds"
    if "signature" not in value:
        return "no signature member"
    return None


def _entries_find_their_documents(documents: dict[str, Document], log: Log, failures: Failures,
                                  statements: Mapping[str, Any]) -> None:
    for entry in log.notable.values():
        if entry.evidence_id is None:
            continue
        statement = statements.get(entry.evidence_id)
        if statement is not None and entry.evidence_id not in documents:
            if statement.log_seq != entry.seq:
                failures.add("evidence-forged", "log/prunings.jsonl", f"entry {entry.seq}",
                             f"log entry {entry.seq} names pruning statement {entry.evidence_id!r},"
                             f" which belongs to entry {statement.log_seq}", entry.approval, entry.transfer)
            continue
        doc = documents.get(entry.evidence_id)
        if doc is None:
            failures.add("evidence-forged", f"evidence/{entry.evidence_id}.json", f"entry {entry.seq}",
                         f"log entry {entry.seq} (line {entry.line}) names evidence {entry.evidence_id!r},"
                         " which is not in the bundle", entry.approval, entry.transfer)
        elif doc.log_seq != entry.seq:
            failures.add("evidence-forged", doc.file, doc.id,
                         f"log entry {entry.seq} also names this document, which belongs to entry {doc.log_seq}",
                         doc.approval, doc.transfer)
