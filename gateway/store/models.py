"""The gateway's tables (SQLAlchemy 2 typed ORM). Schema changes go through Alembic migrations in
`gateway/store/migrations`; a test checks that the models and the migrations agree."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores naive values and would lose the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[str]: JSON()}


class Organisation(Base):
    """A city, a contractor or a subcontractor."""

    __tablename__ = "organisations"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # city | contractor | subcontractor
    certifications: Mapped[list[str]] = mapped_column(default=list)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    role: Mapped[str] = mapped_column(String(24))  # staff | contractor | security-officer | admin
    # argon2id; NULL until initial credentials are issued. Never the password itself.
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]

    organisation: Mapped[Organisation] = relationship()


class Approval(Base):
    __tablename__ = "approvals"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_number: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text)
    city_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    decision: Mapped[str] = mapped_column(String(32))
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]  # exclusive
    max_records: Mapped[int] = mapped_column(Integer)
    # The approval file exactly as registered, so evidence can quote what the council decided.
    source_toml: Mapped[str] = mapped_column(Text)
    source_sha256: Mapped[str] = mapped_column(String(64))
    registered_at: Mapped[datetime]
    registered_by: Mapped[str] = mapped_column(String(64))


class ApprovalRecipient(Base):
    """An organisation an approval lets data reach: a contractor, or a subcontractor via one."""

    __tablename__ = "approval_recipients"
    approval_id: Mapped[str] = mapped_column(ForeignKey("approvals.id"), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    via_organisation_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"), default=None)


class HandlerDesignation(Base):
    """A person on an approval's handler list (取扱責任者・取扱者): only they may touch the data."""

    __tablename__ = "handler_designations"
    approval_id: Mapped[str] = mapped_column(ForeignKey("approvals.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # responsible | handler


class TransferProfile(Base):
    __tablename__ = "transfer_profiles"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    source_toml: Mapped[str] = mapped_column(Text)
    source_sha256: Mapped[str] = mapped_column(String(64))


class Transfer(Base):
    """One hand-over of one package under one approval, from sending to erasure."""

    __tablename__ = "transfers"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    approval_id: Mapped[str] = mapped_column(ForeignKey("approvals.id"))
    profile_id: Mapped[str] = mapped_column(ForeignKey("transfer_profiles.id"))
    channel: Mapped[str] = mapped_column(String(16))
    sender_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sender_organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    recipient_organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    parent_transfer_id: Mapped[str | None] = mapped_column(ForeignKey("transfers.id"), default=None)
    state: Mapped[str] = mapped_column(String(24))
    record_count: Mapped[int] = mapped_column(Integer)
    plaintext_sha256: Mapped[str] = mapped_column(String(64))
    manifest: Mapped[dict[str, Any]] = mapped_column()  # of the minimised file that was sent
    package_blob_id: Mapped[str] = mapped_column(String(40))
    package_sha256: Mapped[str] = mapped_column(String(64))
    # argon2id of the passphrase: lets the gateway check a passphrase without being able to tell it
    passphrase_verifier: Mapped[str] = mapped_column(String(200))
    sent_at: Mapped[datetime]
    receipt_due: Mapped[datetime]
    gateway_erase_due: Mapped[datetime]
    contractor_deletion_due: Mapped[datetime | None] = mapped_column(default=None)
    received_at: Mapped[datetime | None] = mapped_column(default=None)
    erased_at: Mapped[datetime | None] = mapped_column(default=None)  # the gateway's copy
    # What the sender says makes two sends the same (the hot folder: folder and content hash);
    # unique, so a send retried after a crash can never create a second transfer.
    source_key: Mapped[str | None] = mapped_column(String(128), unique=True, default=None)
    updated_at: Mapped[datetime]


class Setting(Base):
    """Installation facts written by `gateway init` (schema of the key store, creation time)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class LogEntry(Base):
    """One access-log entry. `body` is the canonical JSON that is hashed and exported; the other
    columns copy fields out of it only so the log can be filtered without parsing every body."""

    __tablename__ = "log_entries"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    hash: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16), index=True)
    actor_user: Mapped[str | None] = mapped_column(String(64), index=True)
    actor_org: Mapped[str | None] = mapped_column(String(64), index=True)
    approval_id: Mapped[str | None] = mapped_column(String(64), index=True)
    transfer_id: Mapped[str | None] = mapped_column(String(40), index=True)
    # Not in `body`: which organisation an administrative entry concerns (ledger/log.py Event).
    subject_org: Mapped[str | None] = mapped_column(String(64), index=True)


class LedgerHead(Base):
    """The single row every appender locks, so concurrent writers still form one linear chain."""

    __tablename__ = "ledger_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    checkpoint_size: Mapped[int] = mapped_column(Integer)
    # The RFC 6962 tree over entries 1..seq as its frontier (ledger/tree.py): at most 64 hashes,
    # updated with each entry, so a checkpoint's root never needs the log read again.
    tree: Mapped[str] = mapped_column(Text)


class Checkpoint(Base):
    """A C2SP checkpoint of the log (audit/FORMAT.md, format 2), signed by the gateway; the
    witnesses' cosignatures of it are in models_witness.Cosignature."""

    __tablename__ = "checkpoints"
    size: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    body: Mapped[str] = mapped_column(Text)  # the signed note: text, blank line, the gateway's signature line
    # The tree's frontier at `size` (hex, largest subtree first): what a consistency proof from
    # this size needs, and what a pruning statement at this cut publishes.
    frontier: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class EvidenceDocument(Base):
    __tablename__ = "evidence_documents"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(32), index=True)
    approval_id: Mapped[str | None] = mapped_column(String(64), index=True)
    transfer_id: Mapped[str | None] = mapped_column(String(40), index=True)
    log_seq: Mapped[int] = mapped_column(ForeignKey("log_entries.seq"))
    body: Mapped[str] = mapped_column(Text)  # canonical JSON including the signature
    issued_at: Mapped[datetime]


class Blob(Base):
    """A stored file (package or deliverable), encrypted under its own data key.

    `wrapped_key` is the data key encrypted under generation `kek_generation` of the
    key-encryption key (models_kek); setting it to NULL is the crypto-erase, made final when that
    generation is destroyed: the file, and every backup or stray copy of it, becomes unreadable.
    """

    __tablename__ = "blobs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))  # of the content, before at-rest encryption
    size: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    # Written with every wrapped key; nullable only because SQLite adds a column that references
    # another table to a table with rows only if its default is NULL.
    kek_generation: Mapped[int | None] = mapped_column(ForeignKey("kek_generations.id"), default=None)
    created_at: Mapped[datetime]
    erased_at: Mapped[datetime | None] = mapped_column(default=None)


class ContractorDeletion(Base):
    """The contractor's erasure of its copies of one transfer: request, the city's decision, and
    the erasure certificate (Komae's special terms; NIST SP 800-88 fields)."""

    __tablename__ = "contractor_deletions"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    transfer_id: Mapped[str] = mapped_column(ForeignKey("transfers.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))  # requested | approved | rejected | certified
    request: Mapped[dict[str, Any]] = mapped_column()
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    certificate: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    requested_at: Mapped[datetime]
    updated_at: Mapped[datetime]


__all__ = [
    "Base",
    "Organisation",
    "User",
    "Approval",
    "ApprovalRecipient",
    "HandlerDesignation",
    "TransferProfile",
    "Transfer",
    "Setting",
    "LogEntry",
    "LedgerHead",
    "Checkpoint",
    "EvidenceDocument",
    "Blob",
    "ContractorDeletion",
]
