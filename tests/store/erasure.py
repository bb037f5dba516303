"""What the crypto-erase tests share: a hand-over with one package to erase and one to keep, and
a scan of every byte on disk for the erased data key in any form an existing KEK still opens."""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import make_url, select

from gateway.home import Home
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.blobs import BlobStore
from gateway.store.models_kek import KekGeneration
from tests.conftest import run_gateway
from tests.helpers import send

WRAPPED_BYTES = 12 + 32 + 16  # nonce, data key, GCM tag
# Sent a day after the first, so that a sweep between their windows erases only the first.
LATER = "2020-06-02T10:00:00+09:00"

Unwrap = Callable[[bytes, bytes], bool]  # (wrapped form, aad) -> opens under some existing KEK


@dataclass
class Package:
    transfer: str
    blob: str
    sha256: str
    passphrase: str
    data_key: bytes = b""
    wrapped: set[bytes] = field(default_factory=set)  # every wrapped form its row has held


def send_two(source: Path, tmp_path: Path, monkeypatch) -> tuple[Package, Package]:
    # These tests fetch each package again after every step of a key rotation or erasure: what
    # they check is the keys, not the download limit, which the city lifts for these sends.
    monkeypatch.setenv("GATEWAY_DOWNLOADS_MAX_COMPLETE", "0")
    first = json.loads(send(source, tmp_path).stdout)
    monkeypatch.setenv("GATEWAY_FAKE_NOW", LATER)
    second = json.loads(send(source, tmp_path).stdout)
    return _package(first), _package(second)


def _package(sent: dict) -> Package:
    return Package(sent["transfer"], "", sent["sha256"], sent["passphrase"])


def sample(home: Path, *packages: Package) -> None:
    """Read each package's blob id, data key and current wrapped form (added to the forms seen)."""
    gw = Gateway.open(Home.resolve(str(home)))
    try:
        blobs = BlobStore(gw.home.blobs, gw.keys.kek())
        with gw.unit() as s:
            for p in packages:
                p.blob = s.get(m.Transfer, p.transfer).package_blob_id
                row = s.get(m.Blob, p.blob)
                if row.wrapped_key is not None:
                    p.wrapped.add(row.wrapped_key)
                    p.data_key = blobs.data_key(s, p.blob)
    finally:
        gw.engine.dispose()


def erase_due(home: Path, transfer: str):
    gw = Gateway.open(Home.resolve(str(home)))
    try:
        with gw.read() as s:
            return s.get(m.Transfer, transfer).gateway_erase_due
    finally:
        gw.engine.dispose()


def generations(home: Path) -> list[tuple[int, str, bool, bool]]:
    """(id, backend, retired, destroyed) of every KEK generation the database records."""
    gw = Gateway.open(Home.resolve(str(home)))
    try:
        with gw.read() as s:
            return [(g.id, g.backend, g.retired_at is not None, g.destroyed_at is not None)
                    for g in s.scalars(select(KekGeneration).order_by(KekGeneration.id))]
    finally:
        gw.engine.dispose()


def opens(package: Package, tmp_path: Path, name: str) -> bool:
    """The contractor fetches the package and decrypts it to the plaintext the city sent."""
    out = tmp_path / f"{name}.age"
    proc = run_gateway("fetch", package.transfer, "-o", str(out), "--as", "k.tanaka", "--paper-ref", "書面 1", check=False)
    if proc.returncode != 0:
        return False
    (tmp_path / f"{name}.pass").write_text(package.passphrase + "\n")
    run_gateway("package", "decrypt", str(out), "-o", str(tmp_path / f"{name}.csv"),
                "--passphrase-file", str(tmp_path / f"{name}.pass"))
    return hashlib.sha256((tmp_path / f"{name}.csv").read_bytes()).hexdigest() == package.sha256


# -- the scan -----------------------------------------------------------------------------------

def files_under(*roots: Path) -> Iterator[Path]:
    for root in roots:
        if root.is_file():
            yield root
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                yield path


def sqlite_files() -> list[Path]:
    """The SQLite database and its -wal and -shm, wherever GATEWAY_DB_URL puts them (the tests'
    homes keep it beside the home, not in it); none on PostgreSQL."""
    url = make_url(os.environ["GATEWAY_DB_URL"])
    if url.get_backend_name() != "sqlite":
        return []
    return [p for p in (Path(f"{url.database}{s}") for s in ("", "-wal", "-shm")) if p.exists()]


def file_keks(home: Path) -> list[AESGCM]:
    """Every KEK generation file that still exists."""
    return [AESGCM(p.read_bytes()) for p in sorted((home / "keys" / "kek").glob("*.key"))]


def unwrap_with(keks: Iterable[AESGCM]) -> Unwrap:
    keks = list(keks)

    def unwrap(wrapped: bytes, aad: bytes) -> bool:
        for kek in keks:
            try:
                kek.decrypt(wrapped[:12], wrapped[12:], aad)
                return True
            except InvalidTag:
                continue
        return False
    return unwrap


@dataclass
class Finding:
    path: Path
    offset: int
    what: str

    def __str__(self) -> str:
        return f"{self.path} @ {self.offset}: {self.what}"


def find_key(package: Package, roots: Iterable[Path], unwrap: Unwrap) -> list[Finding]:
    """The erased data key in clear, or any wrapped form of it that an existing KEK opens."""
    assert len(package.data_key) == 32 and package.wrapped, "sample() the package before it is erased"
    found = []
    aad = package.blob.encode()
    for path in files_under(*roots):
        data = path.read_bytes()
        found += [Finding(path, i, "data key in clear") for i in _all(data, package.data_key)]
        for form in package.wrapped:
            found += [Finding(path, i, "wrapped key an existing KEK opens")
                      for i in _all(data, form) if unwrap(form, aad)]
    return found


def brute_force(package: Package, roots: Iterable[Path], unwrap: Unwrap) -> list[Finding]:
    """Every 60-byte window of every file, tried as a wrapped form of the erased blob's key under
    every existing KEK: finds a wrapped form even one the test never saw (about 1 µs a try)."""
    aad = package.blob.encode()
    found = []
    for path in files_under(*roots):
        data = path.read_bytes()
        for i in range(len(data) - WRAPPED_BYTES + 1):
            if unwrap(data[i:i + WRAPPED_BYTES], aad):
                found.append(Finding(path, i, "window opens as the erased key"))
    return found


def _all(data: bytes, needle: bytes) -> list[int]:
    hits, i = [], data.find(needle)
    while i != -1:
        hits.append(i)
        i = data.find(needle, i + 1)
    return hits


def checkpoint_postgres(server) -> None:
    """Make PostgreSQL write its buffers to the files, so the scan sees what the server holds."""
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres", autocommit=True) as c:
        c.execute("CHECKPOINT")


def mode(path: Path) -> str:
    return oct(os.stat(path).st_mode & 0o777)


def on_disk(home: Path, request) -> list[Path]:
    """Every place the installation's bytes are: the home, the SQLite files, or PostgreSQL's data
    directory (after a CHECKPOINT, so what the server holds in memory is in its files too)."""
    roots = [home, *sqlite_files()]
    if "postgres" in request.node.callspec.id:
        server = request.getfixturevalue("postgres")
        checkpoint_postgres(server)
        roots.append(Path(server.datadir))
    return roots
