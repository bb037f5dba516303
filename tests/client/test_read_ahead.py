"""The client's read-ahead of a package (gateway/client/read_ahead.py): every byte in order, the
source's failure raised where the consumer reads, and a consumer that stops early (a wrong
passphrase, a damaged package) leaves no thread reading behind it."""
from __future__ import annotations

import io
import os
import threading

import pytest

from gateway.client.read_ahead import CHUNK, MAX_AHEAD, ReadAhead


def test_every_byte_arrives_in_order():
    data = os.urandom(5 * CHUNK + 123)
    with ReadAhead(io.BytesIO(data)) as ahead:
        assert io.BufferedReader(ahead, 100_000).read() == data


class Broken(io.RawIOBase):
    def __init__(self) -> None:
        self.calls = 0

    def read(self, n: int = -1) -> bytes:
        self.calls += 1
        if self.calls > 2:
            raise ConnectionResetError("the server went away")
        return b"x" * n


def test_the_sources_failure_is_raised_where_the_consumer_reads():
    with ReadAhead(Broken()) as ahead, pytest.raises(ConnectionResetError):
        io.BufferedReader(ahead, CHUNK).read()


class Endless(io.RawIOBase):
    def __init__(self) -> None:
        self.given = 0

    def read(self, n: int = -1) -> bytes:
        self.given += n
        return b"y" * n


def test_a_consumer_that_stops_early_stops_the_reading_and_memory_stays_bounded():
    source = Endless()
    ahead = ReadAhead(source)
    assert ahead.read(10) == b"y" * 10
    ahead.close()
    assert not any(t.name == "package-read-ahead" and t.is_alive() for t in threading.enumerate())
    assert source.given <= MAX_AHEAD + 2 * CHUNK  # the queue's bound, one chunk in hand, one being put
