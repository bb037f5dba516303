"""How strongly an attestation is the party's own: the three strengths an evidence document records.

- `signed`: the handler signed it with their own registered SSH key (gateway-client). The gateway
  checks the signature before recording anything and keeps the signed bytes and signature.
- `terminal`: filed in the browser over mutual TLS from the handler's designated terminal; the
  evidence records the terminal certificate's fingerprint, and only the gateway signs it.
- `paper`: a city operator entered a paper document on the party's behalf; the evidence records
  who entered it, for whom, and the paper (the scan's SHA-256, or a reference to the filed paper).

Each operation that records an attestation (receipt, deletion request, erasure certificate,
deliverable declaration) takes one of these, asks it to `check` within its attempt (a refusal is
logged there, once), writes the `attested` member it returns into its evidence document, and calls
`keep` in the transaction that records the evidence.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.attestations import sshsig
from gateway.attestations.document import LABELS, Envelope
from gateway.clock import timestamp
from gateway.errors import Conflict, Forbidden, Invalid, Unauthenticated
from gateway.operations.attempt import Attempt
from gateway.operations.sshkeys import principal
from gateway.store.models_attestations import Attestation
from gateway.store.models_ssh import SshKey

SIGNED, TERMINAL, PAPER = "signed", "terminal", "paper"
# A signature dated this far ahead of the gateway's clock is refused: the signer's clock is wrong,
# and a date in the future would let a receipt or certificate claim a time that has not come.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass
class Accepted:
    """What a checked attestation puts into the evidence, and when the party says it was made."""

    member: dict[str, Any]
    dated: datetime
    row: Attestation | None = field(default=None, repr=False)

    def keep(self, session: Session, document: dict[str, Any]) -> None:
        """Store the signed attestation beside the evidence document that recorded it."""
        if self.row is None:
            return
        self.row.evidence_id, self.row.log_seq = document["id"], document["log_seq"]
        session.add(self.row)
        try:
            session.flush()
        except IntegrityError:
            # Two filings of the same signed document raced; the nonce let only one through.
            raise Conflict("この署名付き文書は既に提出されています。", "this signed attestation was already filed.") \
                from None


class Attested(Protocol):
    @property
    def strength(self) -> str: ...

    def check(self, a: Attempt, kind: str, transfer_id: str, approval_id: str) -> Accepted: ...


@dataclass(frozen=True)
class Terminal:
    """Filed in the browser (or its API) from the handler's designated terminal."""

    fingerprint: str
    strength: str = TERMINAL

    def check(self, a: Attempt, kind: str, transfer_id: str, approval_id: str) -> Accepted:
        return Accepted({"strength": TERMINAL, "terminal": self.fingerprint}, a.gw.clock.now())


@dataclass(frozen=True)
class Paper:
    """A paper document a city operator entered on the party's behalf (proxy entry)."""

    entered_by: dict[str, Any]  # the operator: {user, org, role}
    sha256: str | None = None  # of the scan (--paper FILE)
    ref: str | None = None  # where the paper is filed (--paper-ref TEXT)
    strength: str = PAPER

    def check(self, a: Attempt, kind: str, transfer_id: str, approval_id: str) -> Accepted:
        return Accepted({"strength": PAPER, "entered_by": self.entered_by,
                         "on_behalf_of": {"user": a.actor.user, "org": a.actor.org},
                         "paper": {"sha256": self.sha256, "ref": self.ref}}, a.gw.clock.now())


@dataclass(frozen=True)
class Signed:
    """Signed by the handler with their own SSH key (SSHSIG, namespace gateway-attestation)."""

    envelope: Envelope
    strength: str = SIGNED

    def check(self, a: Attempt, kind: str, transfer_id: str, approval_id: str) -> Accepted:
        doc, gw = self.envelope.document, a.gw
        what_ja, what_en = LABELS[kind]
        if doc["type"] != kind or doc["transfer"] != transfer_id:
            raise Invalid(f"署名された文書は、この{what_ja}のものではありません。",
                          f"the signed document is not this {what_en} (it names another type or transfer).")
        if doc["signer"] != a.user.login:
            raise Forbidden("署名者がログインした本人と異なります。本人の鍵で署名してください。",
                            "the document names another signer than the person filing it; sign with your own key.")
        verified = _verify(self.envelope)
        now = gw.clock.now()
        signed_at = datetime.fromisoformat(doc["signed_at"].replace("Z", "+00:00"))
        with gw.read() as session:
            key = session.get(SshKey, verified.fingerprint)
            if key is None or key.user_id != a.user.id:
                raise Forbidden("この鍵はあなたの鍵として登録されていません。登録した鍵で署名してください。",
                                f"the key {verified.fingerprint} is not registered to you; sign with your registered key.",
                                detail=f"signed with unregistered key {verified.fingerprint}")
            if key.revoked_at is not None:
                raise Forbidden("この鍵は取り消されています。市に新しい鍵を登録してもらってください。",
                                "this key was revoked and can no longer sign; have the city register a new key.",
                                detail=f"signed with revoked key {verified.fingerprint}")
            if signed_at < key.added_at:
                raise Invalid("署名日時が鍵の登録より前です。端末の時計を確認してください。",
                              "the signature is dated before the key was registered; check your clock.")
            if session.scalar(select(Attestation.id).where(or_(
                    Attestation.nonce == doc["nonce"], Attestation.id == self.envelope.id))) is not None:
                raise Conflict("この署名付き文書は既に提出されています。新しく作り直してください。",
                               "this signed attestation was already filed (replayed); make a new one.")
        if signed_at > now + CLOCK_SKEW:
            raise Invalid("署名日時がゲートウェイの時刻より先です。端末の時計を合わせてから署名し直してください。",
                          "the signature is dated ahead of the gateway's clock; set your clock and sign again.")
        data = self.envelope.data
        row = Attestation(id=self.envelope.id, type=kind, transfer_id=transfer_id, approval_id=approval_id,
                          user_id=a.user.id, key_fingerprint=verified.fingerprint, nonce=doc["nonce"],
                          document=data.decode("utf-8"), signature=self.envelope.signature, signed_at=signed_at,
                          received_at=now, channel=a.channel, evidence_id="", log_seq=0)
        member = {"strength": SIGNED, "attestation": self.envelope.id, "sha256": hashlib.sha256(data).hexdigest(),
                  "key": verified.fingerprint, "principal": principal(a.user), "signed_at": doc["signed_at"],
                  "received_at": timestamp(now)}
        return Accepted(member, signed_at, row)


def _verify(envelope: Envelope) -> sshsig.Verified:
    try:
        return sshsig.verify(envelope.signature, envelope.data, sshsig.NAMESPACE)
    except sshsig.SshsigError as err:
        if err.problem is sshsig.Problem.NAMESPACE:
            raise Unauthenticated("署名の用途（名前空間）が違います。gateway-client で署名し直してください。",
                                  f"the signature was made for another purpose ({err.detail}); sign with gateway-client.",
                                  detail=f"SSHSIG {err}") from None
        if err.problem is sshsig.Problem.BAD_SIGNATURE:
            raise Unauthenticated("署名を検証できません。文書が改変されたか、別の文書の署名です。",
                                  "the signature does not verify: the document was altered, or the signature is "
                                  "another document's.", detail=f"SSHSIG {err}") from None
        raise Invalid("署名の形式が正しくないか、使えない種類の鍵です（ed25519 を推奨）。",
                      f"the signature is malformed or of an unsupported kind ({err.detail}); use an ed25519 key.",
                      detail=f"SSHSIG {err}") from None


def default_for(a: Attempt) -> Attested:
    """An attestation filed without a signature: entered from paper by an operator (proxy entry),
    or from a designated terminal; on any other channel it is refused (the client must sign)."""
    if a.caller is not None and a.caller.proxy is not None:
        p = a.caller.proxy
        return Paper({"user": p.operator, "org": p.org, "role": p.role}, p.paper_sha256, p.paper_ref)
    if a.caller is not None and a.caller.terminal:
        return Terminal(a.caller.terminal)
    raise Unauthenticated("署名のない申告は受け付けられません。gateway-client で本人の鍵で署名してください。",
                          "an unsigned attestation is not accepted here; sign it with your key (gateway-client).")
