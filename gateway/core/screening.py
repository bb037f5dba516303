"""Screening a recipient file against an approval: what staff learn before anything is sent.

The file is read once, streaming; nothing is written. The channels' send operation uses the same
steps and then minimises and encrypts what was allowed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.core.approvals import Approval
from gateway.core.policy import Decision, HandOver, decide
from gateway.core.profiles import Profile
from gateway.core.records.linebound import DEFAULT_MAX_LINE_BYTES
from gateway.core.records.manifest import Manifest
from gateway.core.records.opening import PathLike
from gateway.core.records.reader import scan


@dataclass(frozen=True)
class Screening:
    manifest: Manifest
    decision: Decision

    def to_dict(self) -> dict[str, object]:
        return {
            "allowed": self.decision.allowed,
            "refusals": [{"kind": r.kind, "ja": r.ja, "en": r.en} for r in self.decision.refusals],
            "remove": sorted(self.decision.remove),
            "records_to_send": self.decision.records_to_send,
            "manifest": self.manifest.to_dict(),
        }


def screen(
    path: PathLike,
    approval: Approval,
    profile: Profile,
    *,
    sender_org: str,
    sender_role: str,
    recipient: str,
    at: datetime,
    password_delivery: str | None = None,
    max_line: int = DEFAULT_MAX_LINE_BYTES,
) -> Screening:
    manifest = scan(path, max_line=max_line)
    decision = decide(HandOver(
        approval=approval,
        profile=profile,
        sender_org=sender_org,
        sender_role=sender_role,
        recipient=recipient,
        at=at,
        columns=tuple(manifest.columns),
        record_count=manifest.record_count,
        excluded=dict(manifest.excluded),
        password_delivery=password_delivery,
    ))
    return Screening(manifest, decision)
