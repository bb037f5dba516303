"""The SFTP source lock is shared by the nodes (issue 24, item 1): failures spread over two nodes
add up, and a source locked on one node is refused on the other. Two engines on one real
PostgreSQL, as two nodes have."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine

from gateway.channels.vpn_sftp.limits import ASK_EVERY, Limits
from gateway.channels.vpn_sftp.lockout import SharedLockout
from gateway.settings import SftpSettings

pytestmark = pytest.mark.postgres


def test_failures_on_two_nodes_lock_the_source_on_both(home, db_url):
    settings = SftpSettings(max_failures=4, failure_window_seconds=600, lockout_seconds=900)
    engines = [create_engine(db_url), create_engine(db_url)]
    try:
        a, b = (Limits.of(settings, SharedLockout(e)) for e in engines)
        assert [a.failed("192.0.2.7"), b.failed("192.0.2.7"), a.failed("192.0.2.7")] == [False, False, False]
        assert not a.locked("192.0.2.7") and not b.locked("192.0.2.7")
        assert b.failed("192.0.2.7") is True  # the fourth failure, wherever it lands, locks the source
        assert b.locked("192.0.2.7")
        time.sleep(ASK_EVERY)  # node A asks the database at most once a second per source
        assert a.locked("192.0.2.7")
        assert not a.locked("192.0.2.8")  # another source is not touched
        # A third node started later learns of the lock from the database.
        assert Limits.of(settings, SharedLockout(engines[0])).locked("192.0.2.7")
    finally:
        for e in engines:
            e.dispose()
