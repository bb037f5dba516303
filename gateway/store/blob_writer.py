"""A blob written as its bytes arrive: each 64 KiB is encrypted under the blob's fresh data key and
handed to the object backend before the next is read, so an upload (a contractor's deliverable)
reaches the blob store in one pass, with no staging copy to re-read and re-encrypt when it ends,
and is never on disk in clear.

The writer holds the data key in memory until `finish()`, which commits the object and returns
the blob's row, sealed so that the transaction recording it wraps the key (`blobs._wrap_on_insert`).
Until then the object does not exist: a writer discarded, or a process killed, leaves at most a
temporary of ciphertext under a key no one kept (the sweep removes those of dead writers).
"""
from __future__ import annotations

import hashlib
import os
import uuid
from datetime import datetime
from typing import Any

from gateway.crypto.age.stream import PayloadWriter
from gateway.store import models as m
from gateway.store.objects import ObjectBackend, ObjectUpload

DATA_KEY_BYTES = 32
SEAL = "_gateway_unwrapped_key"  # instance attribute, never a column: (keyring, data key) until the insert


def sealed(blob: m.Blob, keyring: Any, data_key: bytes) -> m.Blob:
    """`blob` carrying its data key to the insert that wraps it under the KEK."""
    setattr(blob, SEAL, (keyring, data_key))
    return blob


class BlobWriter:
    def __init__(self, objects: ObjectBackend, keyring: Any, *, at: datetime) -> None:
        self.id = uuid.uuid4().hex
        self.at = at
        self.size = 0
        self._keyring = keyring
        self._key = os.urandom(DATA_KEY_BYTES)
        self._digest = hashlib.sha256()  # of the content in clear: what the blob's row names
        self._object: ObjectUpload | None = objects.begin(self.id)
        try:
            self._payload: PayloadWriter | None = PayloadWriter(self._key, self._object)  # type: ignore[arg-type]
        except BaseException:
            self.discard()
            raise

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._payload is None:
            raise ValueError("the blob was finished or discarded")
        self._digest.update(data)
        self._payload.write(data)
        self.size += len(data)
        return len(data)

    def finish(self) -> m.Blob:
        """The last chunk out and the object committed (fsynced, or uploaded to the object store);
        the row, not yet in any session. From here the object is the recorder's: `BlobStore.staged`
        removes it if the row is not recorded."""
        if self._payload is None or self._object is None:
            raise ValueError("the blob was finished or discarded")
        try:
            self._payload.finish()
            self._object.commit()
        except BaseException:
            self.discard()
            raise
        self._payload = self._object = None
        blob = m.Blob(id=self.id, sha256=self._digest.hexdigest(), size=self.size, created_at=self.at)
        key, self._key = self._key, b""
        return sealed(blob, self._keyring, key)

    def discard(self) -> None:
        """Drop what was written so far and forget the key. Nothing, once finished."""
        obj, self._object, self._payload, self._key = self._object, None, None, b""
        if obj is not None:
            obj.discard()
