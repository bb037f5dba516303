"""Before authentication the SSH server reads what anyone on the network sends (issue 19, the
standing battery): malformed and out-of-order packets are refused, each connection ends within a
bounded time, and a real client is served throughout."""
from __future__ import annotations

import os
import socket
import struct
import time

import pytest

BANNER = b"SSH-2.0-OpenSSH_9.2\r\n"


def _packet(payload: bytes, *, length: int | None = None) -> bytes:
    pad = 8 - (len(payload) + 5) % 8
    pad = pad + 8 if pad < 4 else pad
    body = bytes([pad]) + payload + os.urandom(pad)
    return struct.pack(">I", len(body) if length is None else length) + body


HOSTILE = {
    "garbage instead of a banner": [os.urandom(512)],
    "a banner 64 KiB long": [b"SSH-2.0-" + b"x" * 65536 + b"\r\n"],
    "endless lines before the banner": [b"hello\r\n" * 2000],
    "a packet claiming 4 GiB": [BANNER, struct.pack(">I", 0xFFFFFFF0) + os.urandom(64)],
    "a zero-length packet": [BANNER, struct.pack(">I", 0)],
    "a service request before key exchange": [BANNER, _packet(b"\x05" + struct.pack(">I", 14) + b"ssh-userauth")],
    "userauth before key exchange": [BANNER, _packet(b"\x32" + struct.pack(">I", 4) + b"root" + os.urandom(40))],
    "channel open before key exchange": [BANNER, _packet(b"\x5a" + struct.pack(">I", 7) + b"session" + os.urandom(12))],
    "a truncated KEXINIT": [BANNER, _packet(b"\x14" + os.urandom(16))],
    "random packets": [BANNER] + [_packet(os.urandom(n)) for n in (1, 17, 255, 4000)],
}


def _ends_within(port: int, chunks: list[bytes], seconds: float) -> float:
    """Send the chunks and wait for the server to close; how long it took."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=seconds) as s:
        s.settimeout(seconds)
        try:
            for chunk in chunks:
                s.sendall(chunk)
            while s.recv(65536):
                if time.monotonic() - start > seconds:
                    raise AssertionError("the server kept the connection open")
        except (ConnectionResetError, BrokenPipeError):
            pass
    return time.monotonic() - start


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_bytes_before_authentication_end_the_connection(sftp, name):
    took = _ends_within(sftp.port, HOSTILE[name], 30.0)
    assert took < 30.0
    proc = sftp.run("ls /outbox\n")  # the real client is still served
    assert proc.returncode == 0 and f"{sftp.transfer}.age" in proc.stdout
