"""What the client and the server say over the socket.

The client sends one request, with its three standard streams attached (SCM_RIGHTS): a 4-byte
length, then JSON `{"argv", "cwd", "env", "umask", "code"}` (`code`: code_identity() below).
The server answers with JSON lines: `{"pid": N}` when the command's child runs, then
`{"exit": N}` or `{"signal": N}` when it ended; or only `{"declined": reason}`, and the client
runs the command itself.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import struct
import sys
import time
from typing import Any

MAX_REQUEST = 4 << 20
REQUEST_SECONDS = 2.0  # the whole request, from accept to its last byte
LOCALE_VARIABLES = ("LC_ALL", "LC_CTYPE", "LANG", "PYTHONIOENCODING", "PYTHONUTF8")
STREAMS = (0, 1, 2)
_LENGTH = struct.Struct("!I")


def peer_uid(sock: socket.socket) -> int:
    """The user of the process at the other end of a Unix socket, as the kernel says (SO_PEERCRED)."""
    return int(struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[1])


def socket_path(home_root: str) -> str:
    return os.path.join(home_root, "run", "commands.sock")


def code_identity(package_dir: str) -> str:
    """The code a command would run: the gateway package's modules (each file's path, size and
    modification time), the interpreter and its libraries, and the locale the standard streams
    are made in. A server started before an upgrade or an edit, from another virtualenv or in
    another locale answers otherwise and declines."""
    parts = [sys.version, sys.prefix]
    # The libraries: installing, upgrading or removing a distribution changes its directory's
    # entries, hence the directory's modification time.
    parts += [f"{entry}:{os.stat(entry).st_mtime_ns}" for entry in sys.path if entry and os.path.isdir(entry)]
    # What decides how the standard streams encode: a child's are made like the server's.
    parts += [f"{name}={os.environ.get(name, '')}" for name in LOCALE_VARIABLES]
    for root, dirs, files in os.walk(package_dir):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                st = os.stat(os.path.join(root, name))
                parts.append(f"{os.path.relpath(os.path.join(root, name), package_dir)}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def send_request(sock: socket.socket, request: dict[str, Any], fds: tuple[int, ...] = STREAMS) -> None:
    body = json.dumps(request).encode()
    data = _LENGTH.pack(len(body)) + body
    sent = socket.send_fds(sock, [data], list(fds))
    if sent < len(data):
        sock.sendall(data[sent:])


def receive_request(sock: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """The request and the file descriptors that came with it (the caller owns and closes them)."""
    deadline = time.monotonic() + REQUEST_SECONDS
    sock.settimeout(REQUEST_SECONDS)
    data, fds, flags, _ = socket.recv_fds(sock, 64 * 1024, len(STREAMS))
    try:
        if flags & socket.MSG_CTRUNC or len(fds) != len(STREAMS) or len(data) < _LENGTH.size:
            raise ValueError("a request comes with exactly the three standard streams")
        (length,) = _LENGTH.unpack_from(data)
        if length > MAX_REQUEST:
            raise ValueError("request too large")
        body = bytearray(data[_LENGTH.size:])
        while len(body) < length:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ValueError("request too slow")
            sock.settimeout(left)
            more = sock.recv(min(64 * 1024, length - len(body)))
            if not more:
                raise ValueError("request cut short")
            body += more
        request = json.loads(bytes(body[:length]))
        if not isinstance(request, dict):
            raise ValueError("request is not an object")
        return request, fds
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise


def answer(sock: socket.socket, **fields: Any) -> None:
    sock.sendall(json.dumps(fields).encode() + b"\n")
