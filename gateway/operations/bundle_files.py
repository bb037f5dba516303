"""The files of an evidence bundle as it is written: each one hashed from the bytes being written
and fsynced before it is closed, so the manifest's inventory and the final flush to disk need not
open and read back what the export has just written. A file written by someone else into the
same directory (the attestations) is read back as before."""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


class BundleFiles:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._known: dict[Path, tuple[str, int]] = {}  # written here: (SHA-256, size), already fsynced

    def write(self, path: Path, data: bytes) -> None:
        with self._create(path, "xb") as f:
            f.write(data)
            self._done(path, f, hashlib.sha256(data).hexdigest(), len(data))

    def write_lines(self, path: Path, lines: Iterator[str]) -> None:
        digest, size = hashlib.sha256(), 0
        with self._create(path, "xb") as f:
            for line in lines:
                data = line.encode("utf-8") + b"\n"
                digest.update(data)
                size += len(data)
                f.write(data)
            self._done(path, f, digest.hexdigest(), size)

    def inventory(self) -> list[dict[str, Any]]:
        files = []
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            sha256, size = self._known.get(path) or _hash(path)
            files.append({"path": path.relative_to(self.root).as_posix(), "sha256": sha256, "size": size})
        return sorted(files, key=lambda f: f["path"])

    def sync(self) -> None:
        """Every file not written here, and every directory, to disk (ours were, as they closed)."""
        for path in [*self.root.rglob("*"), self.root]:
            if path in self._known:
                continue
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    @staticmethod
    def _create(path: Path, mode: str) -> IO[bytes]:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, mode)  # noqa: SIM115 - closed by the caller's with

    def _done(self, path: Path, f: IO[bytes], sha256: str, size: int) -> None:
        f.flush()
        os.fsync(f.fileno())
        self._known[path] = (sha256, size)


def _hash(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest(), path.stat().st_size
