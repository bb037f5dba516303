"""`gateway export evidence`: a self-contained bundle an outsider can verify (audit/FORMAT.md,
format 2: C2SP checkpoints with the witnesses' cosignatures).

The export is logged, and that entry is covered by a checkpoint written in the same transaction.
Then, with no transaction open, the witnesses get a bounded chance (`[witness] export_wait_seconds`)
to cosign it, so the bundle carries the freshest cosignatures; a witness that does not answer in
time leaves the tail unwitnessed, which the auditor reports as such. The files are then read from
one snapshot, cut at that checkpoint: entries appended meanwhile belong to the next bundle.

The bundle is written into a fresh temporary directory beside the target and renamed into place
only when complete, so a failed export leaves nothing that looks like a bundle.
"""
from __future__ import annotations

import glob
import os
import shutil
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select

from gateway.attestations import export as attested
from gateway.clock import monotonic, timestamp
from gateway.crypto.canonical_json import canonical
from gateway.errors import Conflict, NotFound
from gateway.ledger.checkpoints import cosignature_lines
from gateway.ledger.log import Actor
from gateway.operations.attempt import attempt
from gateway.operations.bundle_files import BundleFiles
from gateway.service import Gateway
from gateway.store import faultpoints
from gateway.store import models as m
from gateway.store.models_pruning import LogPruning
from gateway.witnessing.submit import submit_pending

FORMAT = "gateway-evidence-bundle/2"


def export_bundle(gw: Gateway, out: Path, *, approval: str | None, actor: Actor) -> dict[str, Any]:
    with attempt(gw, actor, "evidence.export", channel="cli") as a:
        out = out.absolute()
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise Conflict(
                f"{out} は既に存在します。空でない場所には書き出しません。別の出力先を指定してください。",
                f"{out} exists and is not empty; choose another output directory.",
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_dead_partials(out)
        # The pid in the name lets the next export to the same place remove what a killed one left.
        work = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}-", dir=out.parent))
        files = BundleFiles(work)
        try:
            with gw.unit() as session:
                if approval is not None and session.get(m.Approval, approval) is None:
                    raise NotFound(
                        f"承認「{approval}」は見つかりません。",
                        f"no approval '{approval}' is registered.",
                    )
                # The export is itself an access to the evidence: it is logged, then covered by the
                # final checkpoint, which the bundle ends at.
                a.approval = approval
                gw.ledger.record(session, a.event())
                gw.ledger.checkpoint(session)
                head = session.get(m.LedgerHead, 1)
                assert head is not None
                log_size, log_head = head.seq, head.hash
                created_at = timestamp(gw.clock.now())
            submit_pending(gw, until=monotonic() + gw.settings.witness.export_wait_seconds, newest=True)
            with gw.read() as session:
                _no_prune_since(session, log_size)
                approvals = _approvals(session, approval)
                for row in approvals:
                    files.write(work / "approvals" / f"{row.id}.toml", row.source_toml.encode("utf-8"))
                for profile in session.scalars(select(m.TransferProfile).order_by(m.TransferProfile.id)):
                    files.write(work / "profiles" / f"{profile.id}.toml", profile.source_toml.encode("utf-8"))
                signers = attested.scope(session, approval)  # key registrations the bundle's signatures need
                files.write_lines(work / "log" / "entries.jsonl", _entries(session, approval, log_size, signers.seqs))
                for size, note in session.execute(select(m.Checkpoint.size, m.Checkpoint.body)
                                                  .where(m.Checkpoint.size <= log_size).order_by(m.Checkpoint.size)):
                    lines = cosignature_lines(session, size)
                    files.write(work / "checkpoints" / f"{size}.note",
                           (note + "".join(line + "\n" for line in lines)).encode("utf-8"))
                # What was pruned from the log, in every bundle (scoped or not): the statements name
                # no approval, and without them the remaining chain would start from nothing.
                pruned = list(session.scalars(select(LogPruning.body).order_by(LogPruning.last_seq)))
                if pruned:
                    files.write_lines(work / "log" / "prunings.jsonl", iter(pruned))
                query = select(m.EvidenceDocument).where(m.EvidenceDocument.log_seq <= log_size) \
                    .order_by(m.EvidenceDocument.log_seq)
                if approval is not None:
                    # A log's own restart is in every bundle: no scope may hide it (it names no one);
                    # nor the key registrations the scope's signed attestations rest on.
                    query = query.where(or_(m.EvidenceDocument.approval_id == approval,
                                            m.EvidenceDocument.type == "reinitialisation",
                                            m.EvidenceDocument.id.in_(sorted(signers.documents))))
                documents = 0
                for doc in session.scalars(query):
                    files.write(work / "evidence" / f"{doc.id}.json", doc.body.encode("utf-8"))
                    documents += 1
                attested.write(session, work, approval, signers)
                # Again at the end: on PostgreSQL each statement reads the latest commit, so a
                # prune committed while the files were read shows only now.
                _no_prune_since(session, log_size)
            keys = {
                "format": "gateway-keys/1",
                "genesis": gw.keys.genesis_key_id(),
                "keys": gw.keys.public_signing_keys(),
                "rotations": gw.keys.rotation_statements(),
            }
            files.write(work / "keys.json", canonical(keys))
            manifest = gw.ledger.signer.sign({
                "format": FORMAT,
                "installation": gw.ledger.installation,
                "created_at": created_at,
                "scope": {"approval": approval},
                "log": {"size": log_size, "head": log_head},
                "files": files.inventory(),
            })
            files.write(work / "MANIFEST.json", canonical(manifest))
            files.sync()
            faultpoints.reached("export:before-rename")
            if out.exists():
                out.rmdir()
            os.replace(work, out)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return {"bundle": str(out), "approvals": [a.id for a in approvals], "log_size": log_size,
                "evidence_documents": documents}


def _remove_dead_partials(out: Path) -> None:
    """Partial bundles an export killed before its rename left beside `out`."""
    from gateway.operations.workarea import alive

    for partial in out.parent.glob(f".{glob.escape(out.name)}.*-*"):
        pid = partial.name[len(out.name) + 2:].split("-", 1)[0]
        if partial.is_dir() and pid.isdigit() and int(pid) != os.getpid() and not alive(int(pid)):
            shutil.rmtree(partial, ignore_errors=True)


def _approvals(session: Any, approval: str | None) -> list[m.Approval]:
    query = select(m.Approval).order_by(m.Approval.id)
    if approval is not None:
        query = query.where(m.Approval.id == approval)
    return list(session.scalars(query))


def _no_prune_since(session: Any, size: int) -> None:
    """A prune that ran after the export's checkpoint removed entries the bundle must hold."""
    if (session.scalar(select(func.max(LogPruning.log_seq))) or 0) > size:
        raise Conflict("書き出しの途中でログの刈り込みが行われました。もう一度書き出してください。",
                       "the log was pruned while the bundle was being written; export again.")


def _entries(session: Any, approval: str | None, size: int, keep: Collection[int] = ()) -> Iterator[str]:
    """Entries in order; outside the scope only their hash, so the chain links but stays private
    (except `keep`: entries the scope's evidence rests on, such as key registrations)."""
    rows = session.execute(
        select(m.LogEntry.seq, m.LogEntry.hash, m.LogEntry.body, m.LogEntry.approval_id, m.LogEntry.action)
        .where(m.LogEntry.seq <= size).order_by(m.LogEntry.seq).execution_options(yield_per=5000)
    )
    for seq, entry_hash, body, entry_approval, action in rows:
        # The home's own entries (a rehearsal, a restart after a lost database) stay readable in
        # every scope: they concern the whole log and hold no one's data.
        if approval is None or entry_approval == approval or action.startswith("home.") or seq in keep:
            yield body
        else:
            yield canonical({"seq": seq, "redacted": True, "hash": entry_hash}).decode("utf-8")
