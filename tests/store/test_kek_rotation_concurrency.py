"""A rotation that runs while another process is recording a new blob: the new data key is
wrapped in the transaction that records it, so the rotation waits for it and re-wraps it too,
and destroying the old generation loses nothing."""
from __future__ import annotations

import io
import json
import threading
import time

import psycopg
import pytest
from sqlalchemy import make_url

from gateway.home import Home
from gateway.service import Gateway
from gateway import kek_rotation
from gateway.store import models as m
from gateway.store.blobs import BlobStore

from tests.conftest import run_gateway
from tests.store.erasure import generations

DEADLINE_S = 30


def rotation_waits_on_a_lock(db_url: str) -> bool:
    url = make_url(db_url)
    with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname="postgres", autocommit=True) as c:
        row = c.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                        (url.database,)).fetchone()
    return bool(row and row[0])


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_blob_recorded_during_a_rotation_is_rewrapped_not_lost(home, db_url):
    gw = Gateway.open(Home.resolve(str(home)))
    writer = BlobStore(gw.home.blobs, gw.keys.kek())
    with gw.unit() as s:
        before = writer.put(s, io.BytesIO(b"recorded before the rotation"), at=gw.clock.now())
    done: dict[str, object] = {}

    def rotate() -> None:
        done["result"] = kek_rotation.rotate(gw.engine, gw.ledger, gw.keys.kek(), now=gw.clock.now(), force=True)

    rotation = threading.Thread(target=rotate)
    with writer.staged(io.BytesIO(b"recorded during the rotation"), at=gw.clock.now()) as during, gw.unit() as s:
        s.add(during)
        s.flush()  # wrapped under generation 1, which this transaction now holds shared
        rotation.start()
        deadline = time.monotonic() + DEADLINE_S
        while not rotation_waits_on_a_lock(db_url):
            assert rotation.is_alive() and time.monotonic() < deadline, "the rotation did not wait for the writer"
            time.sleep(0.01)
    rotation.join(DEADLINE_S)
    assert done["result"].to_dict() == {"generation": 2, "backend": "file", "rewrapped": 2,
                                        "destroyed": [1], "scrubbed": True}
    assert generations(home) == [(1, "file", True, True), (2, "file", False, False)]
    reader = BlobStore(gw.home.blobs, gw.keys.kek())
    for blob, text in ((before, b"recorded before the rotation"), (during, b"recorded during the rotation")):
        out = io.BytesIO()
        with gw.read() as s:
            reader.copy_to(s, blob.id, out)
        assert out.getvalue() == text
    gw.engine.dispose()


def test_a_reader_whose_snapshot_predates_a_rotation_still_opens_the_blob(home, monkeypatch):
    # The reader loaded the row (generation 1) before another process rotated and destroyed
    # generation 1; it reads the committed row again instead of failing. Its open snapshot is
    # in the way of the rotation's scrub, which says so and leaves it for later.
    monkeypatch.setenv("GATEWAY_DB_BUSY_TIMEOUT_MS", "200")
    gw = Gateway.open(Home.resolve(str(home)))
    blobs = BlobStore(gw.home.blobs, gw.keys.kek())
    with gw.unit() as s:
        blob = blobs.put(s, io.BytesIO(b"read across a rotation"), at=gw.clock.now())
    out = io.BytesIO()
    with gw.read() as s:
        assert s.get(m.Blob, blob.id).kek_generation == 1
        rotated = json.loads(run_gateway("keys", "rotate-kek", "--json").stdout)
        assert rotated["destroyed"] == [1] and rotated["scrubbed"] is False
        blobs.copy_to(s, blob.id, out)
    assert out.getvalue() == b"read across a rotation"
    gw.engine.dispose()
