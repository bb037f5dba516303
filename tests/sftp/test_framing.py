"""SFTP requests reach the server however the client's bytes are cut into SSH channel packets:
GatewaySftpServer reads the channel in large pieces and finds the requests in them itself
(protocol.py), so requests split byte by byte, several in one channel packet, and a garbage
length are checked here over a real socket."""
from __future__ import annotations

import socket
import struct
import time

import paramiko
from paramiko.sftp import CMD_ATTRS, CMD_INIT, CMD_STAT, CMD_VERSION


def _packet(t: int, body: bytes) -> bytes:
    return struct.pack(">IB", len(body) + 1, t) + body


def _stat(request_id: int, path: str) -> bytes:
    name = path.encode()
    return _packet(CMD_STAT, struct.pack(">II", request_id, len(name)) + name)


def _read_reply(channel: paramiko.Channel) -> tuple[int, bytes]:
    def exactly(n: int) -> bytes:
        out = b""
        while len(out) < n:
            got = channel.recv(n - len(out))
            assert got, "the server closed the channel"
            out += got
        return out

    size = struct.unpack(">I", exactly(4))[0]
    data = exactly(size)
    return data[0], data[1:]


def _session(sftp) -> tuple[paramiko.Transport, paramiko.Channel]:
    t = paramiko.Transport(socket.create_connection(("127.0.0.1", sftp.port), timeout=10))
    t.start_client(timeout=10)
    t.auth_publickey("k.tanaka", paramiko.Ed25519Key.from_private_key_file(str(sftp.key)))
    channel = t.open_session()
    channel.settimeout(10)
    channel.invoke_subsystem("sftp")
    channel.sendall(_packet(CMD_INIT, struct.pack(">I", 3)))
    t_, _ = _read_reply(channel)
    assert t_ == CMD_VERSION
    return t, channel


def test_requests_split_and_coalesced_are_each_answered_in_order(sftp):
    t, channel = _session(sftp)
    try:
        # Three requests in one channel packet, then one dribbled a byte at a time.
        channel.sendall(_stat(1, "/outbox") + _stat(2, "/inbox") + _stat(3, "/outbox"))
        for byte in _stat(4, "/outbox"):
            channel.sendall(bytes([byte]))
            time.sleep(0.001)
        for expected in (1, 2, 3, 4):
            kind, body = _read_reply(channel)
            assert kind == CMD_ATTRS
            assert struct.unpack(">I", body[:4])[0] == expected
    finally:
        t.close()


def test_a_garbage_length_ends_the_session(sftp):
    t, channel = _session(sftp)
    try:
        channel.sendall(b"\x7f\x00\x00\x00" + b"x" * 16)  # a 2 GB request: paramiko's "garbage packet"
        deadline = time.monotonic() + 10
        while not channel.exit_status_ready() and not channel.closed and time.monotonic() < deadline:
            if channel.recv_ready() and channel.recv(1 << 16) == b"":
                break
            time.sleep(0.05)
        assert channel.recv(1 << 16) == b""  # end of file: the server ended the subsystem
    finally:
        t.close()
