"""A real SeaweedFS for the tests of blobs in an S3-compatible object store (issue 24, item 3)."""
from __future__ import annotations

import uuid

import pytest

from gateway.cluster import seaweedfs


@pytest.fixture(scope="session")
def seaweed():
    server = seaweedfs.start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def seaweed_up(seaweed):
    """The server, running again after the test whatever the test did to it."""
    yield seaweed
    if seaweed.process is None:
        seaweed.restart()


@pytest.fixture
def s3_prefix(seaweed_up, home, monkeypatch):
    """`home` with its blobs in the object store, under a prefix of its own: `[blobs] url` in its
    gateway.toml, the access key in the environment as an operator would give it."""
    prefix = "home-" + uuid.uuid4().hex[:12]
    for name, value in seaweed_up.environ.items():
        monkeypatch.setenv(name, value)
    with (home / "gateway.toml").open("a", encoding="utf-8") as f:
        f.write(f'\n[blobs]\nurl = "{seaweed_up.url(prefix)}"\n')
    return prefix


@pytest.fixture
def db_url(postgres):
    """The object store is for several nodes, which share one PostgreSQL: these tests run on it."""
    return postgres.new_database()
