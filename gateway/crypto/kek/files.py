"""KEK generations as files: `keys/kek/<generation>.key`, 32 random bytes each, mode 0600.

Destroying a generation overwrites the file in place, fsyncs, unlinks it and fsyncs the
directory. On a file system that writes in place that removes the bytes; on a copy-on-write file
system, a journal that logs data, or a flash device's remapped blocks, an old copy may survive
below the file system, out of reach of any program. Where that matters, keep the KEK in a
PKCS#11 token (`[kek] backend = "pkcs11"`), where destroying it is the token's promise.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.crypto.kek.errors import KekGenerationGone, KekUnavailable, WrongKek
from gateway.fsutil import atomic_output, fsync_dir

KEK_BYTES = 32
_NAME = re.compile(r"^(\d{8})\.key$")


class FileKeks:
    name = "file"

    def __init__(self, root: Path) -> None:
        self.root = root
        self._open: dict[int, AESGCM] = {}

    def path(self, generation: int) -> Path:
        return self.root / f"{generation:08d}.key"

    def create(self, generation: int) -> None:
        path = self.path(generation)
        if path.exists():
            if path.stat().st_size != KEK_BYTES:
                raise KekUnavailable(f"鍵暗号化鍵 {path.name} が壊れています。",
                                     f"the key-encryption key {path.name} is damaged.")
            return
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Temp name, fsync, rename, fsync of the directory: the key is whole and durable before
        # any data key is wrapped under it, or it does not exist at all.
        with atomic_output(path) as out:
            out.write(os.urandom(KEK_BYTES))

    def present(self) -> set[int]:
        if not self.root.exists():
            return set()
        return {int(m.group(1)) for p in self.root.iterdir() if (m := _NAME.match(p.name))}

    def _aead(self, generation: int) -> AESGCM:
        aead = self._open.get(generation)
        if aead is None:
            try:
                key = self.path(generation).read_bytes()
            except FileNotFoundError:
                raise KekGenerationGone(self.name, generation) from None
            if len(key) != KEK_BYTES:
                raise KekUnavailable(f"鍵暗号化鍵 {self.path(generation).name} が壊れています。",
                                     f"the key-encryption key {self.path(generation).name} is damaged.")
            aead = self._open[generation] = AESGCM(key)
        return aead

    def encrypt(self, generation: int, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        return self._aead(generation).encrypt(nonce, data, aad)

    def decrypt(self, generation: int, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        try:
            return self._aead(generation).decrypt(nonce, data, aad)
        except InvalidTag:
            raise WrongKek() from None

    def destroy(self, generation: int) -> None:
        self._open.pop(generation, None)
        path = self.path(generation)
        try:
            fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return
        try:
            size = os.fstat(fd).st_size
            os.pwrite(fd, os.urandom(size), 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        path.unlink()
        fsync_dir(self.root)
