"""Contractors' attestations (FORMAT.md, "attestations"): whose they are, and how strongly.

Every receipt, deletion request, erasure certificate and deliverable declaration the gateway
recorded carries an `attested` member saying what vouches for it being the party's own:

- `signed`: the party signed it with their SSH key. The bundle carries the signed bytes
  (`attestations/<id>.json`) and the SSHSIG signature (`.json.sig`). It is checked here with the
  auditor's own SSHSIG code (audit/sshsig.py); the key must be one the city's signed
  `key-registration` evidence gives to that person, valid (registered, not yet revoked) at the
  time the signature says it was made; and what was signed must be what the evidence records.
- `terminal`: filed from the person's designated terminal over mutual TLS; only the gateway's
  signature vouches for it, with the terminal's fingerprint, and its log entry must be a portal
  entry by that person.
- `paper`: entered by a city operator from the party's paper, whose scan's SHA-256 or filing
  reference is recorded; its log entry must be a command-line entry.

A failed check is `evidence-forged` (a signature made after its key was revoked, too). The report
shows each attestation's strength per transfer. After the fact, an erasure certificate dated
before the city's approval of the deletion request, or a receipt dated before the first download
it confirms, is `attestation-out-of-order` (the gateway refuses both; finding one means it did not).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from audit import jcs, sshsig, timefmt
from audit.bundle import Inventory, ReadError, read_capped
from audit.chain import Log
from audit.evidence import Document
from audit.result import Failures

NAMESPACE = "gateway-attestation"
DIRECTORY = "attestations"
ALLOWED_SIGNERS = "attestations/allowed_signers"
ATTESTED_TYPES = ("receipt", "deletion-request", "erasure-certificate", "deliverable-declaration")
DOCUMENT_CAP = 64 << 10
SIGNATURE_CAP = sshsig.ARMOR_CAP
SIGNERS_CAP = 4 << 20
STRENGTHS = {"signed": ("本人の電子署名", "signed by the party"),
             "terminal": ("専用端末から提出（端末認証）", "terminal-authenticated"),
             "paper": ("書面から代理入力", "entered from paper on the party's behalf"),
             None: ("記録なし", "not recorded")}
# What the signed document and the evidence must agree on, per type.
_SAME = {"receipt": ("record_count", "sha256"),
         "deletion-request": ("items", "media", "quantity", "method", "planned_date"),
         # media_serial_or_location: which of several places of erasure a certificate covers
         "erasure-certificate": ("deletion", "erased_at", "sanitisation", "technique", "tool", "place",
                                 "media_serial_or_location"),
         "deliverable-declaration": ("name", "sha256", "size")}
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_SIGNER_LINE = re.compile(r'(\S+) namespaces="([^"]*)" (\S+) (\S+)\Z')


@dataclass(frozen=True)
class KeyValidity:
    principal: str
    user: str
    public_key: str
    valid_from: datetime
    valid_until: datetime | None
    registration: str


@dataclass
class Attested:
    """What vouches for one evidence document; `verified` is False when any check failed."""

    strength: str | None
    verified: bool
    signer: str | None = None  # principal of a signature, operator of a paper entry
    dated: datetime | None = None  # when the party says it made the attestation

    def to_json(self) -> dict[str, Any]:
        ja, en = STRENGTHS.get(self.strength, STRENGTHS[None])
        return {"strength": self.strength, "label": ja, "label_en": en, "verified": self.verified,
                "signer": self.signer}


@dataclass
class Attestations:
    by_evidence: dict[str, Attested] = field(default_factory=dict)
    files: int = 0  # signed attestations in the bundle
    keys: dict[str, KeyValidity] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for a in self.by_evidence.values():
            out[a.strength or "none"] = out.get(a.strength or "none", 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {"signed_files": self.files, "by_strength": self.counts(),
                "keys": {fp: {"principal": k.principal, "valid_from": _fmt(k.valid_from),
                              "valid_until": _fmt(k.valid_until) if k.valid_until else None}
                         for fp, k in sorted(self.keys.items())}}


def check(root: Path, inventory: Inventory, documents: dict[str, Document], log: Log, failures: Failures,
          actual: dict[str, tuple[str, int]]) -> Attestations:
    out = Attestations()
    out.keys = _keys(documents, failures)
    _allowed_signers(root, inventory, out.keys, failures, actual)
    signed = _signed_files(root, inventory, out.keys, failures, actual)
    out.files = len(signed)
    used: set[str] = set()
    for doc in sorted(documents.values(), key=lambda d: d.log_seq):
        if doc.type not in ATTESTED_TYPES:
            continue
        attested = doc.get("attested")
        if attested is None:
            out.by_evidence[doc.id] = Attested(None, doc.trusted)
            continue
        out.by_evidence[doc.id] = _check_one(doc, attested, signed, log, failures, used)
    for attestation_id in sorted(set(signed) - used):
        failures.add("evidence-forged", f"{DIRECTORY}/{attestation_id}.json", None,
                     "no evidence document records this attestation")
    return out


def _fmt(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- keys: from the city's signed evidence, not from the allowed_signers file ------------------------

def _keys(documents: dict[str, Document], failures: Failures) -> dict[str, KeyValidity]:
    keys: dict[str, KeyValidity] = {}
    for doc in sorted(documents.values(), key=lambda d: d.log_seq):
        if doc.type != "key-registration" or not doc.trusted:
            continue
        fp, public, since = doc.get("fingerprint"), doc.get("public_key"), timefmt.parse(doc.get("valid_from"))
        if type(fp) is not str or type(public) is not str or since is None or type(doc.get("principal")) is not str:
            failures.add("evidence-forged", doc.file, doc.id, "malformed key registration")
            continue
        if _fingerprint(public) != fp:
            failures.add("evidence-forged", doc.file, doc.id, "the fingerprint is not the registered key's")
            continue
        keys[fp] = KeyValidity(doc.get("principal"), str(doc.get("user")), public, since, None, doc.id)
    for doc in sorted(documents.values(), key=lambda d: d.log_seq):
        if doc.type != "key-revocation" or not doc.trusted:
            continue
        until, fp = timefmt.parse(doc.get("valid_until")), doc.get("fingerprint")
        key = keys.get(fp) if type(fp) is str else None
        if key is None or until is None:
            failures.add("evidence-forged", doc.file, doc.id, "revokes a key no registration in the bundle names")
            continue
        keys[fp] = KeyValidity(key.principal, key.user, key.public_key, key.valid_from, until, key.registration)
    return keys


def _fingerprint(public_line: str) -> str | None:
    import base64
    import binascii

    parts = public_line.split()
    try:
        blob = base64.b64decode(parts[1], validate=True) if len(parts) == 2 else b""
    except (binascii.Error, ValueError):
        return None
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")


def _allowed_signers(root: Path, inventory: Inventory, keys: dict[str, KeyValidity], failures: Failures,
                     actual: dict[str, tuple[str, int]]) -> None:
    """Each line must be a key the city's signed evidence registered to that principal: the file is
    for `ssh-keygen`, the evidence is what the auditor trusts."""
    if not inventory.has(ALLOWED_SIGNERS):
        if inventory.under(DIRECTORY):
            failures.add("evidence-forged", ALLOWED_SIGNERS, None, "missing")
        return
    data = _read(root, ALLOWED_SIGNERS, SIGNERS_CAP, failures, actual)
    if data is None:
        return
    registered = {(k.principal, k.public_key) for k in keys.values()}
    for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _SIGNER_LINE.match(line.strip())
        if match is None or match.group(2) != NAMESPACE:
            failures.add("evidence-forged", ALLOWED_SIGNERS, f"line {n}",
                         f"not 'principal namespaces=\"{NAMESPACE}\" type key'")
        elif (match.group(1), f"{match.group(3)} {match.group(4)}") not in registered:
            failures.add("evidence-forged", ALLOWED_SIGNERS, f"line {n}",
                         f"{match.group(1)[:80]}: a key no signed key registration in the bundle gives to them")


# -- signed attestations ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Signed:
    id: str
    file: str
    body: dict[str, Any] | None
    sha256: str
    key: str | None  # fingerprint of the key that made a valid signature
    principal: str | None
    problem: str | None  # why it is not accepted


def _signed_files(root: Path, inventory: Inventory, keys: dict[str, KeyValidity], failures: Failures,
                  actual: dict[str, tuple[str, int]]) -> dict[str, _Signed]:
    out: dict[str, _Signed] = {}
    paths = set(inventory.under(DIRECTORY)) - {ALLOWED_SIGNERS}
    for path in sorted(p for p in paths if p.endswith(".json")):
        att_id = path[len(DIRECTORY) + 1:-len(".json")]
        data = _read(root, path, DOCUMENT_CAP, failures, actual)
        signature = _read(root, path + ".sig", SIGNATURE_CAP, failures, actual) if path + ".sig" in paths else None
        if path + ".sig" not in paths:
            failures.add("evidence-forged", path + ".sig", None, "missing: the attestation has no signature")
        if data is None:
            continue
        digest = hashlib.sha256(data).hexdigest()
        signed = _verify(att_id, path, data, digest, signature, keys)
        if signed.problem is not None:
            failures.add("evidence-forged", path, att_id, signed.problem,
                         transfer=signed.body.get("transfer") if signed.body else None)
        out[att_id] = signed
    for path in sorted(p for p in paths if p.endswith(".sig") and p[:-len(".sig")] not in paths):
        failures.add("evidence-forged", path, None, "a signature without its attestation")
    return out


def _verify(att_id: str, path: str, data: bytes, digest: str, signature: bytes | None,
            keys: dict[str, KeyValidity]) -> _Signed:
    def bad(problem: str, body: dict[str, Any] | None = None, key: str | None = None) -> _Signed:
        return _Signed(att_id, path, body, digest, key, None, problem)

    if att_id != "A-" + digest[:24]:
        return bad("the file name is not the SHA-256 of its content (A-<24 hex>)")
    try:
        body = jcs.loads(data)
    except jcs.ParseError as exc:
        return bad(f"not JSON: {exc}")
    if type(body) is not dict:
        return bad("not a JSON object")
    try:
        if jcs.canonical(body) != data:
            return bad("not canonical JSON: bytes outside what is signed", body)
    except (jcs.CanonicalError, RecursionError) as exc:
        return bad(f"cannot be canonicalised: {exc}", body)
    if signature is None:
        return bad("no signature", body)
    try:
        verified = sshsig.verify(signature, data, NAMESPACE)
    except sshsig.SshsigError as exc:
        return bad(f"SSHSIG signature: {exc}", body)
    key = keys.get(verified.fingerprint)
    if key is None:
        return bad(f"signed with {verified.fingerprint}, a key no signed key registration in the bundle names",
                   body, verified.fingerprint)
    signed_at = timefmt.parse(body.get("signed_at"))
    if body.get("signer") != key.user:
        return bad(f"says it is signed by {str(body.get('signer'))[:64]!r}, the key is {key.principal}'s",
                   body, verified.fingerprint)
    if signed_at is None:
        return bad("signed_at is not an RFC 3339 UTC time", body, verified.fingerprint)
    if signed_at < key.valid_from:
        return bad(f"signed at {body['signed_at']}, before the key was registered ({key.registration})",
                   body, verified.fingerprint)
    if key.valid_until is not None and signed_at >= key.valid_until:
        return bad(f"signed at {body['signed_at']}, after the key was revoked", body, verified.fingerprint)
    return _Signed(att_id, path, body, digest, verified.fingerprint, key.principal, None)


def _read(root: Path, path: str, cap: int, failures: Failures, actual: dict[str, tuple[str, int]]) -> bytes | None:
    try:
        data = read_capped(root, path, cap)
    except ReadError as exc:
        failures.add("evidence-forged", path, None, str(exc))
        return None
    actual[path] = (hashlib.sha256(data).hexdigest(), len(data))
    return data


# -- each evidence document's attestation -----------------------------------------------------------

def _check_one(doc: Document, attested: Any, signed: dict[str, _Signed], log: Log, failures: Failures,
               used: set[str]) -> Attested:
    def fail(detail: str) -> None:
        failures.add("evidence-forged", doc.file, doc.id, detail, doc.approval, doc.transfer)

    strength = attested.get("strength") if type(attested) is dict else None
    entry = log.notable.get(doc.log_seq)
    party = doc.get({"receipt": "confirmed_by", "deletion-request": "requested_by",
                     "erasure-certificate": "certified_by", "deliverable-declaration": "declared_by"}[doc.type])
    user = party.get("user") if type(party) is dict else None
    if strength == "signed":
        return _check_signed(doc, attested, signed, entry, user, fail, used)
    if strength == "terminal":
        ok = type(attested.get("terminal")) is str and _HEX64.match(attested["terminal"]) is not None
        if not ok:
            fail("a terminal-authenticated attestation without the terminal's SHA-256")
        elif entry is not None and (entry.channel != "lgwan-asp" or entry.actor_user != user):
            ok = False
            fail(f"terminal-authenticated, but its log entry {entry.seq} is not a portal entry by {user}")
        return Attested("terminal", ok and doc.trusted, user, doc.issued_at)
    if strength == "paper":
        paper, by = attested.get("paper"), attested.get("entered_by")
        ok = type(paper) is dict and (
            (type(paper.get("sha256")) is str and _HEX64.match(paper["sha256"]) is not None)
            or (type(paper.get("ref")) is str and bool(paper["ref"].strip()))) \
            and type(by) is dict and type(by.get("user")) is str
        if not ok:
            fail("entered from paper, but without who entered it or what paper it was")
        elif entry is not None and entry.channel != "cli":
            ok = False
            fail(f"entered from paper, but its log entry {entry.seq} is not a command-line entry")
        return Attested("paper", ok and doc.trusted, by.get("user") if type(by) is dict else None, doc.issued_at)
    fail(f"unknown attestation strength {str(strength)[:40]!r}")
    return Attested(None, False)


def _check_signed(doc: Document, attested: dict[str, Any], signed: dict[str, _Signed], entry: Any,
                  user: str | None, fail: Any, used: set[str]) -> Attested:
    att_id = attested.get("attestation")
    found = signed.get(att_id) if type(att_id) is str else None
    if found is None:
        fail(f"names signed attestation {str(att_id)[:40]!r}, which is not in the bundle")
        return Attested("signed", False)
    used.add(found.id)
    ok = found.problem is None and doc.trusted
    body = found.body or {}
    problems = []
    if attested.get("sha256") != found.sha256:
        problems.append("the SHA-256 it records is not the signed file's")
    if found.key is not None and attested.get("key") != found.key:
        problems.append("the key it records is not the one that signed")
    if body.get("type") != doc.type or body.get("transfer") != doc.transfer:
        problems.append("the signed document is of another type or transfer")
    if body.get("signer") != user:
        problems.append(f"the signed document names {str(body.get('signer'))[:64]!r}, the evidence {user!r}")
    for member in _SAME[doc.type]:
        if member in body and body.get(member) != doc.get(member):
            problems.append(f"{member} differs between what was signed and what was recorded")
    if entry is not None and entry.actor_user != user:
        problems.append(f"its log entry {entry.seq} is not by {user}")
    for problem in problems:
        fail(problem)
    return Attested("signed", ok and not problems, found.principal, timefmt.parse(body.get("signed_at")))


# -- after the fact: what is attested must come after what it answers ------------------------------------

def out_of_order(documents: dict[str, Document], attested: Attestations) -> list[tuple[Document, str, str]]:
    """(document, English detail, Japanese detail) for each attestation dated before what it answers."""
    out = []
    decisions = {d.get("deletion"): d for d in documents.values()
                 if d.type == "deletion-decision" and d.get("approved") is True}
    for doc in sorted(documents.values(), key=lambda d: d.log_seq):
        if doc.type == "erasure-certificate":
            decision = decisions.get(doc.get("deletion"))
            erased, approved = timefmt.parse(doc.get("erased_at")), \
                timefmt.parse(decision.get("decided_at")) if decision else None
            if erased is not None and approved is not None and erased < approved:
                out.append((doc, f"erased at {doc.get('erased_at')}, before the city approved the deletion request"
                                 f" at {decision.get('decided_at')}",  # type: ignore[union-attr]
                            "消去日時が、市による消去依頼の承認より前です。"))
        elif doc.type == "receipt":
            downloaded = timefmt.parse(doc.get("downloaded_at"))
            dated = attested.by_evidence.get(doc.id)
            at = dated.dated if dated is not None and dated.dated is not None else doc.issued_at
            if downloaded is not None and at < downloaded:
                out.append((doc, f"receipt dated {_fmt(at)}, before the download it confirms"
                                 f" ({doc.get('downloaded_at')})", "受領確認の日時が、受け取り（ダウンロード）より前です。"))
    return out
