"""Blobs as files in a directory of the home: `<root>/<first two hex digits>/<blob id>`."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from gateway.fsutil import AtomicFile, atomic_output, fsync_dir
from gateway.store.objects import Fill


class LocalDirectory:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, blob_id: str) -> Path:
        return self.root / blob_id[:2] / blob_id

    def store(self, blob_id: str, fill: Fill) -> None:
        target = self.path(blob_id)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with atomic_output(target) as out:
            fill(out)

    def begin(self, blob_id: str) -> AtomicFile:
        # A dot-named temporary beside the blob (fsutil's naming: `BlobStore.iter_temporaries`
        # and the sweep find those of dead writers), renamed into place on commit.
        target = self.path(blob_id)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return AtomicFile(target)

    def open(self, blob_id: str) -> BinaryIO:
        return self.path(blob_id).open("rb")

    def remove(self, blob_id: str) -> bool:
        path = self.path(blob_id)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        if path.parent.exists():
            fsync_dir(path.parent)
        return not path.exists()

    def exists(self, blob_id: str) -> bool:
        return self.path(blob_id).exists()

    def older_than(self, cutoff: float) -> Iterator[str]:
        for path in self.root.glob("??/*"):
            if path.name.startswith(".") or not path.is_file():
                continue
            with contextlib.suppress(FileNotFoundError):  # removed meanwhile by a sweep elsewhere
                if path.stat().st_mtime < cutoff:
                    yield path.name

    def where(self, blob_id: str) -> str:
        return str(self.path(blob_id))
