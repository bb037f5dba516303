"""Blobs at rest: encrypted under their own key; crypto-erase makes every copy unreadable."""
from __future__ import annotations

import io
import os
import shutil
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from gateway.crypto.keystore import KeyStore
from gateway.home import Home
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.blobs import BlobErased, BlobStore

NOW = datetime(2020, 6, 1, tzinfo=UTC)
PLAINTEXT = ("氏名,住所\n" + "久留米 太郎,福岡県久留米市\n" * 20000).encode("cp932")


@pytest.fixture
def store(home):
    gw = Gateway.open(Home.resolve(str(home)))
    yield gw, BlobStore(gw.home.blobs, KeyStore(gw.home.keys).kek())
    gw.engine.dispose()


def test_round_trip_and_nothing_readable_on_disk(store):
    gw, blobs = store
    with gw.unit() as s:
        blob = blobs.put(s, io.BytesIO(PLAINTEXT), at=NOW)
    raw = blobs.path(blob.id).read_bytes()
    assert "久留米".encode("cp932") not in raw and len(raw) > len(PLAINTEXT)
    assert oct(os.stat(blobs.path(blob.id)).st_mode & 0o777) == "0o600"
    out = io.BytesIO()
    with gw.unit() as s:
        blobs.copy_to(s, blob.id, out)
        row = s.get(m.Blob, blob.id)
        assert row.size == len(PLAINTEXT) and row.wrapped_key is not None
    assert out.getvalue() == PLAINTEXT


def test_crypto_erase_makes_a_backup_copy_useless(store, tmp_path):
    gw, blobs = store
    with gw.unit() as s:
        blob = blobs.put(s, io.BytesIO(PLAINTEXT), at=NOW)
    backup = tmp_path / "backup"
    shutil.copy(blobs.path(blob.id), backup)
    with gw.unit() as s:
        blobs.crypto_erase(s, blob.id, at=NOW)
    assert blobs.remove_file(blob.id)
    assert not blobs.path(blob.id).exists()
    # Someone restores the file from the backup: without the data key it opens for no one.
    shutil.copy(backup, blobs.path(blob.id))
    with gw.unit() as s, pytest.raises(BlobErased) as err:
        blobs.copy_to(s, blob.id, io.BytesIO())
    assert err.value.kind == "access-after-deletion"
    assert "消去済み" in err.value.ja
    with gw.unit() as s:
        assert s.scalar(select(m.Blob.wrapped_key).where(m.Blob.id == blob.id)) is None


def test_erase_is_idempotent_and_a_second_remove_is_harmless(store):
    gw, blobs = store
    with gw.unit() as s:
        blob = blobs.put(s, io.BytesIO(b"x"), at=NOW)
    for _ in range(2):
        with gw.unit() as s:
            blobs.crypto_erase(s, blob.id, at=NOW)
        assert blobs.remove_file(blob.id)


def test_a_rolled_back_put_leaves_only_unreadable_ciphertext(store):
    gw, blobs = store
    with pytest.raises(RuntimeError):
        with gw.unit() as s:
            blob = blobs.put(s, io.BytesIO(PLAINTEXT), at=NOW)
            raise RuntimeError("transfer refused later in the same transaction")
    with gw.unit() as s:
        assert s.get(m.Blob, blob.id) is None
        with pytest.raises(BlobErased):
            blobs.copy_to(s, blob.id, io.BytesIO())
    assert list(blobs.iter_files()) == [blob.id]  # for the sweep to remove
