"""`gateway export evidence`: a self-contained bundle an outsider can verify (audit/FORMAT.md).

The bundle is written into a fresh temporary directory beside the target and renamed into place
only when complete, so a failed export leaves nothing that looks like a bundle.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from gateway.attestations import export as attested
from gateway.clock import timestamp
from gateway.crypto.canonical_json import canonical
from gateway.errors import Conflict, NotFound
from gateway.ledger.log import Actor
from gateway.operations.attempt import attempt
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.models_pruning import LogPruning

FORMAT = "gateway-evidence-bundle/1"


def export_bundle(gw: Gateway, out: Path, *, approval: str | None, actor: Actor) -> dict[str, Any]:
    with attempt(gw, actor, "evidence.export", channel="cli") as a:
        out = out.absolute()
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise Conflict(
                f"{out} は既に存在します。空でない場所には書き出しません。別の出力先を指定してください。",
                f"{out} exists and is not empty; choose another output directory.",
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            with gw.unit() as session:
                if approval is not None and session.get(m.Approval, approval) is None:
                    raise NotFound(
                        f"承認「{approval}」は登録されていません。",
                        f"no approval '{approval}' is registered.",
                    )
                # The export is itself an access to the evidence: it is logged, then covered by the
                # final checkpoint, in the same transaction the files are read from.
                a.approval = approval
                gw.ledger.record(session, a.event())
                gw.ledger.checkpoint(session)
                head = session.get(m.LedgerHead, 1)
                assert head is not None
                created_at = timestamp(gw.clock.now())
                approvals = _approvals(session, approval)
                for row in approvals:
                    _write(work / "approvals" / f"{row.id}.toml", row.source_toml.encode("utf-8"))
                for profile in session.scalars(select(m.TransferProfile).order_by(m.TransferProfile.id)):
                    _write(work / "profiles" / f"{profile.id}.toml", profile.source_toml.encode("utf-8"))
                signers = attested.scope(session, approval)  # key registrations the bundle's signatures need
                _write_lines(work / "log" / "entries.jsonl", _entries(session, approval, signers.seqs))
                _write_lines(work / "log" / "checkpoints.jsonl",
                             (row.body for row in session.scalars(select(m.Checkpoint).order_by(m.Checkpoint.size))))
                # What was pruned from the log, in every bundle (scoped or not): the statements name
                # no approval, and without them the remaining chain would start from nothing.
                pruned = list(session.scalars(select(LogPruning.body).order_by(LogPruning.last_seq)))
                if pruned:
                    _write_lines(work / "log" / "prunings.jsonl", iter(pruned))
                query = select(m.EvidenceDocument).order_by(m.EvidenceDocument.log_seq)
                if approval is not None:
                    query = query.where(or_(m.EvidenceDocument.approval_id == approval,
                                            m.EvidenceDocument.id.in_(sorted(signers.documents))))
                documents = 0
                for doc in session.scalars(query):
                    _write(work / "evidence" / f"{doc.id}.json", doc.body.encode("utf-8"))
                    documents += 1
                attested.write(session, work, approval, signers)
                log_size, log_head = head.seq, head.hash
            keys = {
                "format": "gateway-keys/1",
                "genesis": gw.keys.genesis_key_id(),
                "keys": gw.keys.public_signing_keys(),
                "rotations": gw.keys.rotation_statements(),
            }
            _write(work / "keys.json", canonical(keys))
            manifest = gw.ledger.signer.sign({
                "format": FORMAT,
                "installation": gw.ledger.installation,
                "created_at": created_at,
                "scope": {"approval": approval},
                "log": {"size": log_size, "head": log_head},
                "files": _inventory(work),
            })
            _write(work / "MANIFEST.json", canonical(manifest))
            _fsync_tree(work)
            if out.exists():
                out.rmdir()
            os.replace(work, out)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return {"bundle": str(out), "approvals": [a.id for a in approvals], "log_size": log_size,
                "evidence_documents": documents}


def _approvals(session: Any, approval: str | None) -> list[m.Approval]:
    query = select(m.Approval).order_by(m.Approval.id)
    if approval is not None:
        query = query.where(m.Approval.id == approval)
    return list(session.scalars(query))


def _entries(session: Any, approval: str | None, keep: Collection[int] = ()) -> Iterator[str]:
    """Entries in order; outside the scope only their hash, so the chain links but stays private
    (except `keep`: entries the scope's evidence rests on, such as key registrations)."""
    rows = session.execute(
        select(m.LogEntry.seq, m.LogEntry.hash, m.LogEntry.body, m.LogEntry.approval_id).order_by(m.LogEntry.seq)
    )
    for seq, entry_hash, body, entry_approval in rows:
        if approval is None or entry_approval == approval or seq in keep:
            yield body
        else:
            yield canonical({"seq": seq, "redacted": True, "hash": entry_hash}).decode("utf-8")


def _inventory(root: Path) -> list[dict[str, Any]]:
    files = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        files.append({"path": path.relative_to(root).as_posix(), "sha256": digest.hexdigest(),
                      "size": path.stat().st_size})
    return sorted(files, key=lambda f: f["path"])


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as f:
        f.write(data)


def _write_lines(path: Path, lines: Iterator[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line)
            f.write("\n")


def _fsync_tree(root: Path) -> None:
    for path in [*root.rglob("*"), root]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

