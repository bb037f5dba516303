"""`audit verify`: every signature, hash chain and cross-reference of a bundle (FORMAT.md).

Each layer is checked even when an earlier one failed, so the person sees every problem with its
file and place, not just the first; nothing here raises on hostile input.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from audit import attestations, jcs, timefmt
from audit.approvals import Approval, ApprovalError, Profile, parse_approval, parse_profile
from audit.bundle import (
    CHECKPOINTS,
    ENTRIES,
    KEYS,
    KEYS_CAP,
    MANIFEST,
    MANIFEST_CAP,
    PRUNINGS,
    TOML_CAP,
    BundleUnreadable,
    Inventory,
    ReadError,
    list_bundle,
    read_capped,
)
from audit.chain import Checkpoint, Log, check_checkpoints_against_log, read_checkpoints, read_entries
from audit.evidence import Document, read_documents
from audit.keys import TrustedKeys, load_keys
from audit.pruning import Prunings, check_against_log, read_prunings
from audit.result import Failures, kind_for_file

FORMAT = "gateway-evidence-bundle/1"
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


@dataclass
class Verification:
    root: Path
    failures: Failures = field(default_factory=Failures)
    unreadable: str | None = None
    manifest: dict[str, Any] | None = None
    installation: str | None = None
    created_at: datetime | None = None
    scope: str | None = None
    trusted: TrustedKeys = field(default_factory=TrustedKeys)
    log: Log = field(default_factory=Log)
    prunings: Prunings = field(default_factory=Prunings)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    documents: dict[str, Document] = field(default_factory=dict)
    approvals: dict[str, Approval] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)
    attestations: attestations.Attestations = field(default_factory=attestations.Attestations)

    @property
    def verified(self) -> bool:
        return self.unreadable is None and not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "failures": [f.to_json() for f in self.failures],
            "genesis_key": self.trusted.genesis,
            "pinned_key": self.trusted.pinned,
            "trusted_keys": list(self.trusted.order),
            "installation": self.installation,
            "created_at": self.manifest.get("created_at") if self.manifest else None,
            "scope": {"approval": self.scope},
            "log": {"entries": self.log.lines, "redacted": len(self.log.redacted), "head": self.log.head,
                    "checkpoints": len(self.checkpoints),
                    "pruned": {"entries": self.prunings.base,
                               "statements": [s.to_json() for s in self.prunings.statements]}},
            "evidence_documents": len(self.documents),
            "attestations": self.attestations.to_json(),
            "approvals": sorted(self.approvals),
        }


class _Sha:
    """Streams a file into SHA-256 and counts its bytes, for the manifest comparison."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()
        self.size = 0

    def update(self, data: bytes, /) -> None:
        self.h.update(data)
        self.size += len(data)


def verify(root: Path | str, pin: bytes | None = None) -> Verification:
    result = Verification(Path(root))
    try:
        _verify(result, pin)
    except BundleUnreadable as exc:
        result.unreadable = str(exc)
        result.failures.add("bundle", ".", None, f"cannot read the bundle: {exc}")
    except Exception as exc:  # noqa: BLE001 - the auditor names a failure rather than crash
        result.failures.add("bundle", ".", None, f"internal error: {type(exc).__name__}: {exc}")
    return result


def _verify(result: Verification, pin: bytes | None) -> None:
    failures, root = result.failures, result.root
    inventory = list_bundle(root, failures)
    actual: dict[str, tuple[str, int]] = {}  # path -> (sha256, size) as read

    manifest = _read_json(root, inventory, MANIFEST, MANIFEST_CAP, failures, None, canonical_only=True)
    keys_doc = _read_json(root, inventory, KEYS, KEYS_CAP, failures, actual)
    result.trusted = load_keys(keys_doc if keys_doc is not None else {}, pin, failures)
    listed = _check_manifest(result, manifest)

    for path in inventory.under("approvals"):
        data = _read(root, path, TOML_CAP, failures, actual)
        if data is not None:
            try:
                approval = parse_approval(data, path[len("approvals/"):-len(".toml")])
                result.approvals[approval.id] = approval
            except ApprovalError as exc:
                failures.add("bundle", path, None, f"approval cannot be read: {exc}")
    for path in inventory.under("profiles"):
        data = _read(root, path, TOML_CAP, failures, actual)
        if data is not None:
            try:
                profile = parse_profile(data, path[len("profiles/"):-len(".toml")])
                result.profiles[profile.id] = profile
            except ApprovalError as exc:
                failures.add("bundle", path, None, f"profile cannot be read: {exc}")

    if inventory.has(PRUNINGS):
        sha = _Sha()
        result.prunings = read_prunings(root, sha, failures, result.trusted, result.installation)
        actual[PRUNINGS] = (sha.h.hexdigest(), sha.size)
    if inventory.has(CHECKPOINTS):
        sha = _Sha()
        result.checkpoints = read_checkpoints(root, sha, failures, result.trusted, result.installation,
                                              result.prunings.base_checkpoint)
        actual[CHECKPOINTS] = (sha.h.hexdigest(), sha.size)
    else:
        failures.add("log-tampered", CHECKPOINTS, None, "missing: the log's checkpoints are not in the bundle")
    if inventory.has(ENTRIES):
        sha = _Sha()
        result.log = read_entries(root, sha, failures, scoped=result.scope is not None,
                                  wanted={cp.size for cp in result.checkpoints},
                                  base=result.prunings.base, base_head=result.prunings.base_head)
        actual[ENTRIES] = (sha.h.hexdigest(), sha.size)
    else:
        failures.add("log-tampered", ENTRIES, None, "missing: the access log is not in the bundle")
    check_checkpoints_against_log(result.checkpoints, result.log, failures)
    check_against_log(result.prunings, result.log, failures)
    _check_log_against_manifest(result)

    result.documents = read_documents(root, inventory.under("evidence"), failures, result.trusted,
                                      result.log, actual, result.prunings.by_id)
    result.attestations = attestations.check(root, inventory, result.documents, result.log, failures, actual)
    _compare_files(listed, actual, inventory, failures)


def _read(root: Path, path: str, cap: int, failures: Failures, actual: dict[str, tuple[str, int]] | None) -> bytes | None:
    try:
        data = read_capped(root, path, cap)
    except ReadError as exc:
        failures.add(kind_for_file(path) if path != MANIFEST else "bundle", path, None, str(exc))
        return None
    if actual is not None:
        actual[path] = (hashlib.sha256(data).hexdigest(), len(data))
    return data


def _read_json(root: Path, inventory: Inventory, path: str, cap: int, failures: Failures,
               actual: dict[str, tuple[str, int]] | None, canonical_only: bool = False) -> Any:
    if not inventory.has(path):
        failures.add("bundle" if path == MANIFEST else "evidence-forged", path, None, "missing")
        return None
    data = _read(root, path, cap, failures, actual)
    if data is None:
        return None
    try:
        value = jcs.loads(data)
    except jcs.ParseError as exc:
        failures.add("evidence-forged", path, None, f"not a JSON document: {exc}")
        return None
    if canonical_only:
        # No hash covers MANIFEST.json, only its signature over the parsed value; requiring the
        # canonical bytes makes every byte of it covered too (FORMAT.md: "every byte ... signed").
        try:
            if jcs.canonical(value) != data:
                failures.add("evidence-forged", path, None, "not canonical JSON (RFC 8785): bytes outside the signature")
        except (jcs.CanonicalError, RecursionError) as exc:
            failures.add("evidence-forged", path, None, f"cannot be canonicalised: {exc}")
    return value


def _check_manifest(result: Verification, manifest: Any) -> dict[str, tuple[str, int]]:
    """The manifest's own form and signature; returns its file list as path -> (sha256, size)."""
    failures = result.failures
    fail = lambda where, detail: failures.add("evidence-forged", MANIFEST, where, detail)  # noqa: E731
    listed: dict[str, tuple[str, int]] = {}
    if manifest is None:
        return listed
    if type(manifest) is not dict:
        fail(None, "manifest is not a JSON object")
        return listed
    result.manifest = manifest
    problem = result.trusted.check_document(manifest)
    if problem is not None:
        fail("signature", f"manifest signature: {problem}")
    if manifest.get("format") != FORMAT:
        fail("format", f"format is {str(manifest.get('format'))[:60]!r}, expected {FORMAT!r}")
    if type(manifest.get("installation")) is str:
        result.installation = manifest["installation"]
    else:
        fail("installation", "installation is not a string")
    result.created_at = timefmt.parse(manifest.get("created_at"))
    if result.created_at is None:
        fail("created_at", "created_at is not an RFC 3339 UTC time with microseconds")
    scope = manifest.get("scope")
    if type(scope) is not dict or "approval" not in scope or not (
            scope["approval"] is None or type(scope["approval"]) is str):
        fail("scope", "scope is not {approval: string or null}")
    else:
        result.scope = scope["approval"]
    log = manifest.get("log")
    if type(log) is not dict or type(log.get("size")) is not int or log["size"] < 0 \
            or type(log.get("head")) is not str or not _HEX64.match(log["head"]):
        fail("log", "log is not {size: integer, head: 64 hex digits}")
    files = manifest.get("files")
    if type(files) is not list:
        fail("files", "files is not a list")
        return listed
    previous = ""
    for n, item in enumerate(files):
        where = f"files[{n}]"
        if type(item) is not dict or type(item.get("path")) is not str \
                or type(item.get("sha256")) is not str or not _HEX64.match(item["sha256"]) \
                or type(item.get("size")) is not int or item["size"] < 0:
            fail(where, "not {path, sha256: 64 hex digits, size: integer}")
            continue
        path = item["path"]
        if path.startswith("/") or "\\" in path or any(part in ("", ".", "..") for part in path.split("/")):
            fail(where, f"path {path[:200]!r} is not a plain relative path")
            continue
        if path == MANIFEST:
            fail(where, "the manifest lists itself")
            continue
        if path in listed:
            fail(where, f"{path} is listed twice")
            continue
        if path <= previous:
            fail(where, f"{path} is out of order (files must be sorted by path)")
        previous = path
        listed[path] = (item["sha256"], item["size"])
    return listed


def _check_log_against_manifest(result: Verification) -> None:
    manifest, log = result.manifest, result.log
    if not manifest or not log.read or type(manifest.get("log")) is not dict:
        return
    size, head = manifest["log"].get("size"), manifest["log"].get("head")
    if type(size) is int and size != log.base + log.lines:
        pruned = f" after the {log.base} pruned" if log.base else ""
        result.failures.add("log-tampered", ENTRIES, None,
                            f"the manifest says the log has {size} entries; the file has {log.lines}{pruned}")
    elif type(head) is str and head != log.head:
        result.failures.add("log-tampered", ENTRIES, None, "head of the log is not the manifest's log.head")


def _compare_files(listed: dict[str, tuple[str, int]], actual: dict[str, tuple[str, int]],
                   inventory: Inventory, failures: Failures) -> None:
    for path in sorted(inventory.files):
        if path == MANIFEST:
            continue
        if path not in listed:
            failures.add("bundle", path, None, "not listed in MANIFEST.json (a file was added)")
            continue
        if path not in actual:
            continue  # could not be read; already named
        want_sha, want_size = listed[path]
        got_sha, got_size = actual[path]
        if got_size != want_size or got_sha != want_sha:
            failures.add(kind_for_file(path), path, None,
                         f"SHA-256/size differ from MANIFEST.json ({got_size} bytes, want {want_size}):"
                         " the file was changed after export")
    for path in sorted(set(listed) - set(inventory.files)):
        failures.add(kind_for_file(path), path, None, "listed in MANIFEST.json but missing (a file was removed)")
