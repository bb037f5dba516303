"""Files at rest: each encrypted under its own random data key, wrapped by the key-encryption key.

A blob file is an age STREAM payload (16-byte nonce, 64 KiB ChaCha20-Poly1305 chunks) keyed by
the blob's data key; the data key lives only wrapped (AES-256-GCM under a generation of the KEK,
bound to the blob id) in the database, next to the generation's number. `crypto_erase`
destroys the wrapped key, then deletes the file; the sweep then rotates the KEK
(`gateway.kek_rotation`), which destroys the generation every old copy of that wrapped key
is under.

Where the ciphertext lives is the backend's business (`gateway.store.objects`): the home's blob
directory by default, or an S3-compatible object store that several gateway nodes share.

Why this makes copies unreadable: a backup of the blob directory or bucket, a file recovered from the disk,
or a copy someone took holds only ciphertext; once the wrapped key is gone from the database and
the KEK generation it was wrapped under is destroyed, no key exists anywhere that opens it (NIST
SP 800-88 Rev. 1, cryptographic erase) — not in SQLite's free pages or WAL, PostgreSQL's dead
rows or WAL, nor a database backup, all of which hold it only under the destroyed generation.
What it does not cover: it presumes encryption from the first write, which holds here because
plaintext is never written to the blob directory; nor plaintext that left the gateway (the
contractor's copies: those are covered by deletion requests and erasure certificates); nor a
copy of a KEK file taken before its destruction (keep the KEK in a PKCS#11 token to rule that
out).

A new data key is wrapped in the transaction that records its row (`_wrap_on_insert`), under
the generation current in that transaction, so a concurrent rotation cannot leave it under a
generation it is about to destroy.
"""
from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Connection, event, select
from sqlalchemy.orm import Mapper, Session

from gateway.crypto.age.errors import AgeError
from gateway.crypto.age.stream import decrypt_payload
from gateway.crypto.kek import KekGenerationGone, Keyring
from gateway.errors import Damaged, GatewayError, Gone
from gateway.findings import Kind
from gateway.home import Home
from gateway.settings import Settings
from gateway.store import models as m
from gateway.store.blob_writer import SEAL, BlobWriter
from gateway.store.db import reading
from gateway.store.kek_generations import current_generation
from gateway.store.models_kek import KekGeneration
from gateway.store.objects import ObjectBackend, open_backend
from gateway.store.objects.local import LocalDirectory

_READ = 64 * 1024  # one payload chunk: the writer then holds no more than it did reading one
_log = logging.getLogger("gateway.blobs")


def objects_for_home(home: Home, settings: Settings) -> ObjectBackend:
    """Where `[blobs] url` says this home's ciphertext lives (its own directory when empty)."""
    return open_backend(settings.blobs.url, home.blobs, outage_wait_seconds=settings.blobs.outage_wait_seconds)


def for_home(home: Home, settings: Settings, keyring: Keyring) -> BlobStore:
    return BlobStore(objects_for_home(home, settings), keyring, spool=home.blobs)


class BlobStore:
    def __init__(self, objects: Path | ObjectBackend, keyring: Keyring, *, spool: Path | None = None) -> None:
        self.objects: ObjectBackend = LocalDirectory(objects) if isinstance(objects, Path) else objects
        # The home's blob directory: the blobs themselves when local, else only an object store's
        # uploads being prepared (ciphertext). Where partial writes of dead writers are looked for.
        self.root = objects if isinstance(objects, Path) else (spool or Path("."))
        self.keyring = keyring
        self._backends: dict[int, str] = {}

    def path(self, blob_id: str) -> Path:
        """The blob's file, for a store in a local directory (the simulator damages it on purpose)."""
        if not isinstance(self.objects, LocalDirectory):
            raise TypeError("blobs in an object store have no local path")
        return self.objects.path(blob_id)

    def exists(self, blob_id: str) -> bool:
        return self.objects.exists(blob_id)

    def where(self, blob_id: str) -> str:
        return self.objects.where(blob_id)

    def writer(self, *, at: datetime) -> BlobWriter:
        """A new blob written as its bytes arrive (an upload), recorded with `staged(writer)`."""
        return BlobWriter(self.objects, self.keyring, at=at)

    def write(self, src: BinaryIO, *, at: datetime) -> m.Blob:
        """Encrypt `src` into a new blob file; the returned row is not yet in any session. This is
        the slow part (hashing, encryption, fsync), done before the transaction that records it so
        that the transaction holds the database's write lock only briefly. Prefer `staged`."""
        out = self.writer(at=at)
        try:
            while data := src.read(_READ):
                out.write(data)
        except BaseException:
            out.discard()
            raise
        return out.finish()

    @contextlib.contextmanager
    def staged(self, src: BinaryIO | BlobWriter, *, at: datetime) -> Iterator[m.Blob]:
        """A new blob file whose row the block records in its own short transaction
        (`with blobs.staged(f, at=t) as blob, gw.unit() as s: s.add(blob) ...`); `src` is read
        and encrypted now, or is a writer the bytes already went through as they arrived. If the
        block fails, the commit included (a busy database), the file is removed: no orphan is left.
        If the object store cannot take the removal either, the block's own error is the one
        raised; the object, whose key was never stored, goes in the sweep's orphan clean-up."""
        blob = src.finish() if isinstance(src, BlobWriter) else self.write(src, at=at)
        try:
            yield blob
        except BaseException:
            try:
                self.remove_file(blob.id)
            except GatewayError as err:
                _log.warning("blob %s left for the sweep: %s", blob.id, err.detail or err.en)
            raise

    def put(self, session: Session, src: BinaryIO, *, at: datetime) -> m.Blob:
        """Encrypt `src` into a new blob inside the caller's transaction (which then holds the
        write lock while it encrypts: use `staged` where others may be writing). If the caller's
        transaction rolls back, the file left behind is ciphertext under a key that was never
        stored: already erased, in effect."""
        blob = self.write(src, at=at)
        session.add(blob)
        session.flush()
        return blob

    def data_key(self, session: Session, blob_id: str) -> bytes:
        """The blob's data key; refused once the blob is erased. Fetch it in a short transaction
        and stream with `copy_out` outside it, so a long download holds no database lock."""
        blob = session.get(m.Blob, blob_id)
        if blob is None or blob.wrapped_key is None or blob.kek_generation is None:
            raise BlobErased(blob_id)
        try:
            return self._unwrap(session, blob_id, blob.kek_generation, blob.wrapped_key)
        except KekGenerationGone:
            # A rotation re-wrapped this key and destroyed the generation after this session's
            # snapshot was taken: the committed row names the new one.
            with reading(session.get_bind().engine) as conn:
                row = conn.execute(select(m.Blob.kek_generation, m.Blob.wrapped_key)
                                   .where(m.Blob.id == blob_id)).first()
            if row is None or row.wrapped_key is None or row.kek_generation is None:
                raise BlobErased(blob_id) from None
            self._backends.clear()
            return self._unwrap(session, blob_id, row.kek_generation, row.wrapped_key)

    def _unwrap(self, session: Session, blob_id: str, generation: int, wrapped: bytes) -> bytes:
        backend = self._backends.get(generation)
        if backend is None:
            backend = session.scalar(select(KekGeneration.backend).where(KekGeneration.id == generation))
            if backend is None:
                raise KekGenerationGone("unrecorded", generation)
            self._backends[generation] = backend
        return self.keyring.unwrap(backend, generation, wrapped, blob_id.encode())

    def copy_out(self, blob_id: str, data_key: bytes, dst: BinaryIO) -> None:
        """Decrypt the blob into `dst`. The caller holds its data key, so the blob was not erased:
        a missing or damaged file is the gateway's integrity failure, never an erasure (which
        would blame whoever asked for it as an access after deletion)."""
        try:
            src = self.objects.open(blob_id)
        except FileNotFoundError:
            raise BlobIntegrityFailure(blob_id, "missing") from None
        with src:
            try:
                decrypt_payload(data_key, src, dst)
            except AgeError as err:  # only the blob's bytes raise these; a failing dst raises its own
                raise BlobIntegrityFailure(blob_id, f"corrupted: {err}") from None

    def copy_to(self, session: Session, blob_id: str, dst: BinaryIO) -> None:
        self.copy_out(blob_id, self.data_key(session, blob_id), dst)

    def crypto_erase(self, session: Session, blob_id: str, *, at: datetime) -> None:
        """Destroy the data key (in the caller's transaction). The file goes in `remove_file`,
        after that transaction commits: if the process dies between the two, the file left is
        unreadable and the next sweep removes it."""
        blob = session.get(m.Blob, blob_id)
        if blob is None:
            raise BlobErased(blob_id)
        if blob.wrapped_key is not None:
            blob.wrapped_key = None
            blob.erased_at = at
            session.flush()

    def remove_file(self, blob_id: str) -> bool:
        """Delete the file (or object) and check it is gone (a local directory is fsynced). True if it is gone."""
        return self.objects.remove(blob_id)

    def iter_files(self) -> Iterator[str]:
        return self.objects.older_than(math.inf)

    def older_than(self, cutoff: float) -> Iterator[str]:
        """Ids of the blobs written before `cutoff` (seconds since the epoch, real time)."""
        return self.objects.older_than(cutoff)

    def iter_temporaries(self) -> Iterator[Path]:
        """Partial files of writes in progress, or of writers killed mid-write (never a blob)."""
        for path in self.root.glob("??/.*.tmp"):
            if path.is_file():
                yield path


@event.listens_for(m.Blob, "before_insert")
def _wrap_on_insert(_mapper: Mapper[m.Blob], conn: Connection, blob: m.Blob) -> None:
    sealed = blob.__dict__.pop(SEAL, None)
    if sealed is None:
        raise RuntimeError("a blob row is recorded only through BlobStore.write, which seals its data key")
    keyring, data_key = sealed
    generation, backend = current_generation(conn)
    blob.wrapped_key = keyring.wrap(backend, generation, data_key, blob.id.encode())
    blob.kek_generation = generation


class BlobIntegrityFailure(Damaged):
    """A blob whose data key exists but whose file is missing or does not authenticate: the
    gateway lost or damaged the copy it was keeping. Logged (with the attempt it stopped, as the
    gateway's own failure), alerted in the server's log, and repaired from a backup."""

    def __init__(self, blob_id: str, what: str) -> None:
        super().__init__(
            "ゲートウェイが保管していたデータが失われたか壊れているため、お渡しできません（ゲートウェイ側の障害です。"
            "利用者の操作によるものではありません）。管理者に連絡してください。管理者は `gateway doctor` で確認し、"
            "バックアップから復元してください。",
            "the data the gateway was keeping is missing or damaged and cannot be handed out (a fault at the "
            "gateway, not of anything you did); tell the administrator, who checks with `gateway doctor` and "
            "restores it from a backup.",
            kinds=[Kind.INTEGRITY_FAILURE],
            detail=f"integrity failure at the gateway: blob {blob_id} {what} although its data key exists",
        )
        self.blob_id = blob_id
        _log.error("ALERT integrity failure: blob %s %s although its data key exists; restore it from a backup",
                   blob_id, what)


class BlobErased(Gone):
    def __init__(self, blob_id: str) -> None:
        super().__init__(
            "このデータは保管期間の終了により消去済みです。必要な場合は送付元に再送を依頼してください。",
            "this data was erased at the end of its retention window; ask the sender to send it again if needed.",
            kinds=[Kind.ACCESS_AFTER_DELETION],
        )
        self.blob_id = blob_id
