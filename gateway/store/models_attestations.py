"""Attestations a handler signed with their own SSH key, kept exactly as signed.

`document` is the canonical JSON that was signed (the bytes of `attestations/<id>.json` in an
evidence bundle) and `signature` the armored SSHSIG over it; the evidence document the gateway
issued when it recorded the attestation names it (`attested.attestation`). The nonce and the id
(derived from the signed bytes) are unique: the same signed document is never recorded twice.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base


class Attestation(Base):
    __tablename__ = "attestations"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # A-<24 hex of SHA-256 of document>
    type: Mapped[str] = mapped_column(String(32))
    transfer_id: Mapped[str] = mapped_column(ForeignKey("transfers.id"), index=True)
    approval_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key_fingerprint: Mapped[str] = mapped_column(String(80))
    nonce: Mapped[str] = mapped_column(String(32), unique=True)
    document: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime]
    received_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(16))
    evidence_id: Mapped[str] = mapped_column(String(64))
    log_seq: Mapped[int] = mapped_column(Integer)
