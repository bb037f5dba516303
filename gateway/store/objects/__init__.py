"""Where the blob store keeps its ciphertext: a directory of the home (the embedded default) or an
S3-compatible object store shared by several gateway nodes (`[blobs] url = "s3://..."`).

A backend only moves opaque bytes: encryption, data keys and crypto-erase stay in
`gateway.store.blobs`, so what reaches either backend is ciphertext and nothing else.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

Fill = Callable[[BinaryIO], None]


class ObjectUpload(Protocol):
    """An object being written front to back, as its bytes arrive; it exists only once committed."""

    def write(self, data: bytes) -> int: ...

    def commit(self) -> None:
        """Make the object hold what was written, whole."""

    def discard(self) -> None:
        """Drop what was written; the object is never created."""


class ObjectBackend(Protocol):
    def store(self, blob_id: str, fill: Fill) -> None:
        """Make `blob_id` hold what `fill` writes, whole or not at all."""

    def begin(self, blob_id: str) -> ObjectUpload:
        """An upload of `blob_id` that the caller writes to as its bytes arrive."""

    def open(self, blob_id: str) -> BinaryIO:
        """The stored bytes; FileNotFoundError when there are none."""

    def remove(self, blob_id: str) -> bool:
        """Delete the object and check it is gone; True if it is."""

    def exists(self, blob_id: str) -> bool: ...

    def older_than(self, cutoff: float) -> Iterator[str]:
        """Ids of the objects last written before `cutoff` (seconds since the epoch, real time)."""

    def where(self, blob_id: str) -> str:
        """Where the object is, for an administrator's message (a path or an s3:// address)."""


def open_backend(url: str, home_blobs: Path, *, outage_wait_seconds: int) -> ObjectBackend:
    """The backend `[blobs] url` names; "" is the home's own blob directory."""
    if not url:
        from gateway.store.objects.local import LocalDirectory

        return LocalDirectory(home_blobs)
    from gateway.store.objects.s3 import S3Objects

    return S3Objects.from_url(url, spool=home_blobs, outage_wait_seconds=outage_wait_seconds)
