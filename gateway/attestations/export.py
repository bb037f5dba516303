"""The evidence bundle's `attestations/`: each signed attestation exactly as signed, its signature,
and the city's list of whose key is whose, in OpenSSH's allowed-signers format, so that

    ssh-keygen -Y verify -f attestations/allowed_signers -I k.tanaka@chikugo-print \\
        -n gateway-attestation -s attestations/A-....json.sig < attestations/A-....json

holds with nothing of ours. `allowed_signers` lists every key that signed an attestation in the
bundle (all registered keys in an unscoped bundle), with the key's validity as a comment: the
signed `key-registration` and `key-revocation` evidence documents are what an auditor trusts for
*when* a key was whose, and they are in the bundle with their log entries (also in a bundle scoped
to one approval: a key registration names no approval). No `valid-before` option is written: a
key revoked later must not make `ssh-keygen` reject what it signed while it was valid.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.attestations.sshsig import NAMESPACE
from gateway.clock import timestamp
from gateway.store import models as m
from gateway.store.models_attestations import Attestation
from gateway.store.models_ssh import SshKey

KEY_EVIDENCE = ("key-registration", "key-revocation")
ALLOWED_SIGNERS = "allowed_signers"


@dataclass
class Scope:
    """What a bundle carries besides its approval's own records: the key evidence its signatures need."""

    fingerprints: set[str] = field(default_factory=set)
    documents: set[str] = field(default_factory=set)  # evidence ids of key registrations/revocations
    seqs: set[int] = field(default_factory=set)  # their log entries, never redacted


def scope(session: Session, approval: str | None) -> Scope:
    out = Scope()
    query = select(Attestation.key_fingerprint)
    if approval is not None:
        query = query.where(Attestation.approval_id == approval)
    out.fingerprints = set(session.scalars(query))
    if approval is None:
        out.fingerprints |= set(session.scalars(select(SshKey.fingerprint)))
    for doc_id, seq, body in session.execute(select(m.EvidenceDocument.id, m.EvidenceDocument.log_seq,
                                                    m.EvidenceDocument.body)
                                             .where(m.EvidenceDocument.type.in_(KEY_EVIDENCE))):
        if json.loads(body).get("fingerprint") in out.fingerprints:
            out.documents.add(doc_id)
            out.seqs.add(seq)
    return out


def write(session: Session, work: Path, approval: str | None, chosen: Scope) -> int:
    """Write `attestations/` into the bundle being built at `work`; returns how many attestations."""
    query = select(Attestation).order_by(Attestation.log_seq)
    if approval is not None:
        query = query.where(Attestation.approval_id == approval)
    rows = list(session.scalars(query))
    if not rows and not chosen.fingerprints:
        return 0
    directory = work / "attestations"
    directory.mkdir(parents=True, exist_ok=True)
    for row in rows:
        _create(directory / f"{row.id}.json", row.document.encode("utf-8"))
        _create(directory / f"{row.id}.json.sig", row.signature.encode("ascii"))
    _create(directory / ALLOWED_SIGNERS, allowed_signers(session, chosen.fingerprints).encode("utf-8"))
    return len(rows)


def allowed_signers(session: Session, fingerprints: set[str]) -> str:
    lines = [f"# Keys the city registered for contractors' handlers; namespace {NAMESPACE}.",
             "# The signed key-registration / key-revocation evidence says when each key was valid."]
    keys = session.execute(select(SshKey, m.User).join(m.User, m.User.id == SshKey.user_id)
                           .where(SshKey.fingerprint.in_(sorted(fingerprints)))
                           .order_by(m.User.organisation_id, m.User.login, SshKey.added_at))
    for key, user in keys:
        who = f"{user.login}@{user.organisation_id}"
        until = f", revoked {timestamp(key.revoked_at)}" if key.revoked_at else ""
        lines.append(f"# {who} {key.fingerprint}: registered {timestamp(key.added_at)}{until}")
        lines.append(f'{who} namespaces="{NAMESPACE}" {key.public_key}')
    return "\n".join(lines) + "\n"


def _create(path: Path, data: bytes) -> None:
    with open(path, "xb") as f:
        f.write(data)

