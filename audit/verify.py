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

from audit import attestations, continuity, jcs, timefmt
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
    TREE_HEADS,
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
from audit.tlog import CompactTree
from audit.tree_heads import TreeHead, check_witnessed, read_tree_heads
from audit.tree_heads import check_against_log as check_heads_against_log
from audit.trust import Policy

FORMAT_1 = "gateway-evidence-bundle/1"  # JSON checkpoints chained by hash (log/checkpoints.jsonl)
FORMAT_2 = "gateway-evidence-bundle/2"  # C2SP checkpoints with cosignatures (checkpoints/<size>.note)
FORMATS = {FORMAT_1: 1, FORMAT_2: 2}
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


@dataclass
class Verification:
    root: Path
    policy: Policy | None = None
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
    format: int = 1
    origin: str | None = None
    tree_heads: list[TreeHead] = field(default_factory=list)
    witnessed: int | None = None  # size of the last checkpoint a quorum cosigned (None: policy asks for none)
    documents: dict[str, Document] = field(default_factory=dict)
    approvals: dict[str, Approval] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)
    attestations: attestations.Attestations = field(default_factory=attestations.Attestations)

    @property
    def unverifiable(self) -> bool:
        """No trust policy: nothing outside the bundle vouches for it, whatever it holds."""
        return self.policy is None

    @property
    def verified(self) -> bool:
        return self.policy is not None and self.unreadable is None and not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "unverifiable": self.unverifiable,
            "trust": self.policy.to_json() if self.policy else None,
            "failures": [f.to_json() for f in self.failures],
            "format": self.format,
            "genesis_key": self.trusted.genesis,
            "policy_keys": list(self.trusted.pinned),
            "trusted_keys": list(self.trusted.order),
            "origin": self.origin,
            "witnessed": self.witnessed,
            "installation": self.installation,
            "created_at": self.manifest.get("created_at") if self.manifest else None,
            "scope": {"approval": self.scope},
            "log": {"entries": self.log.lines, "redacted": len(self.log.redacted), "head": self.log.head,
                    "checkpoints": len(self.checkpoints) + len(self.tree_heads),
                    "tree_heads": [h.to_json() for h in self.tree_heads],
                    "pruned": {"entries": self.prunings.base,
                               "statements": [s.to_json() for s in self.prunings.statements]}},
            "evidence_documents": len(self.documents),
            "attestations": self.attestations.to_json(),
            "approvals": sorted(self.approvals),
            "home": continuity.summary(self),
        }


class _Sha:
    """Streams a file into SHA-256 and counts its bytes, for the manifest comparison."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()
        self.size = 0

    def update(self, data: bytes, /) -> None:
        self.h.update(data)
        self.size += len(data)


def verify(root: Path | str, policy: Policy | None = None) -> Verification:
    """Check the bundle; without a policy the checks still run, but the verdict is unverifiable."""
    result = Verification(Path(root), policy)
    try:
        _verify(result)
    except BundleUnreadable as exc:
        result.unreadable = str(exc)
        result.failures.add("bundle", ".", None, f"cannot read the bundle: {exc}")
    except Exception as exc:  # noqa: BLE001 - the auditor names a failure rather than crash
        result.failures.add("bundle", ".", None, f"internal error: {type(exc).__name__}: {exc}")
    return result


def _verify(result: Verification) -> None:
    failures, root, policy = result.failures, result.root, result.policy
    inventory = list_bundle(root, failures)
    actual: dict[str, tuple[str, int]] = {}  # path -> (sha256, size) as read

    manifest = _read_json(root, inventory, MANIFEST, MANIFEST_CAP, failures, None, canonical_only=True)
    keys_doc = _read_json(root, inventory, KEYS, KEYS_CAP, failures, actual)
    result.trusted = load_keys(keys_doc if keys_doc is not None else {}, policy.log_public_keys if policy else None,
                               failures)
    listed = _check_manifest(result, manifest)
    if manifest is None and inventory.under(TREE_HEADS):
        result.format = 2  # the manifest is unreadable; read what the bundle holds

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
        result.prunings = read_prunings(root, sha, failures, result.trusted, result.installation,
                                        policy.origin if policy else None)
        actual[PRUNINGS] = (sha.h.hexdigest(), sha.size)
    tree: CompactTree | None = None
    if result.format == 2:
        if inventory.has(CHECKPOINTS):
            failures.add("bundle", CHECKPOINTS, None, "a format-2 bundle keeps its checkpoints in checkpoints/*.note")
        result.origin, result.tree_heads = read_tree_heads(root, inventory.under(TREE_HEADS), failures,
                                                           result.trusted, policy, actual)
        wanted = {h.size for h in result.tree_heads}
        tree = _tree_after_prunings(result)
    else:
        for path in inventory.under(TREE_HEADS):
            failures.add("bundle", path, None, "a format-1 bundle has no checkpoints/ directory")
        if inventory.has(CHECKPOINTS):
            sha = _Sha()
            result.checkpoints = read_checkpoints(root, sha, failures, result.trusted, result.installation,
                                                  result.prunings.base_checkpoint)
            actual[CHECKPOINTS] = (sha.h.hexdigest(), sha.size)
        else:
            failures.add("log-tampered", CHECKPOINTS, None, "missing: the log's checkpoints are not in the bundle")
        wanted = {cp.size for cp in result.checkpoints}
    if inventory.has(ENTRIES):
        sha = _Sha()
        result.log = read_entries(root, sha, failures, scoped=result.scope is not None, wanted=wanted,
                                  base=result.prunings.base, base_head=result.prunings.base_head, tree=tree)
        actual[ENTRIES] = (sha.h.hexdigest(), sha.size)
    else:
        failures.add("log-tampered", ENTRIES, None, "missing: the access log is not in the bundle")
    if result.format == 2:
        check_heads_against_log(result.tree_heads, result.log, failures)
        result.witnessed = check_witnessed(result.tree_heads, result.log, policy, failures)
    else:
        check_checkpoints_against_log(result.checkpoints, result.log, failures)
        if policy is not None and policy.quorum > 0 and result.log.read:
            result.witnessed = 0
            failures.add("log-unwitnessed", CHECKPOINTS, None,
                         f"entries {result.log.base + 1}–{result.log.base + result.log.lines}: format-1 checkpoints"
                         f" carry no cosignatures, and the policy asks for {policy.quorum} witness(es)")
    check_against_log(result.prunings, result.log, failures)
    _check_log_against_manifest(result)

    result.documents = read_documents(root, inventory.under("evidence"), failures, result.trusted,
                                      result.log, actual, result.prunings.by_id)
    result.attestations = attestations.check(root, inventory, result.documents, result.log, failures, actual)
    _compare_files(listed, actual, inventory, failures)


def _tree_after_prunings(result: Verification) -> CompactTree | None:
    """The Merkle tree the remaining entries grow: empty, or restarted from the last cut's frontier."""
    prunings = result.prunings
    if prunings.base == 0:
        return CompactTree()
    if prunings.base_frontier is None:
        result.failures.add("log-tampered", PRUNINGS, None,
                            f"entries 1–{prunings.base} were pruned but the statement carries no Merkle frontier:"
                            " the checkpoints' roots cannot be recomputed")
        return None
    return CompactTree.from_frontier(prunings.base, prunings.base_frontier)


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
    if manifest.get("format") in FORMATS:
        result.format = FORMATS[manifest["format"]]
    else:
        fail("format", f"format is {str(manifest.get('format'))[:60]!r}, expected {FORMAT_1!r} or {FORMAT_2!r}")
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
