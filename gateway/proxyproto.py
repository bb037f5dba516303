"""The PROXY protocol, version 2 (HAProxy's `send-proxy-v2`): the header a balancer in TCP mode
sends first on each connection it opens to a node, naming the client it accepted. Behind a TCP
balancer every connection otherwise comes from the balancer, and per-source throttles, lockouts
and the log's `source` would count all clients as one.

A listener reads it only when `[cluster] proxy_protocol_from` names the balancer's address, and
only on connections from that address: anyone else cannot claim another source.
https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt, section 2.2.
"""
from __future__ import annotations

import ipaddress
import socket
import struct

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
_PROXY, _LOCAL = 0x21, 0x20  # version 2 with the command PROXY (a relayed client) or LOCAL (the balancer's own)
_TCP4, _TCP6 = 0x11, 0x21


class BadHeader(ValueError):
    """The connection from the balancer did not begin with a PROXY v2 header we can read."""


def read(sock: socket.socket, timeout: float = 2.0) -> tuple[str, int] | None:
    """Reads the header off `sock` (blocking, at most `timeout` seconds; the balancer writes it
    with the connection): the client's (address, port), or None for a LOCAL connection (the
    balancer's health check). Leaves `sock` blocking or not as it was."""
    saved = sock.gettimeout()
    sock.settimeout(timeout)
    try:
        head = _exactly(sock, 16)
        if head[:12] != SIGNATURE:
            raise BadHeader("no PROXY v2 signature")
        command, family, length = head[12], head[13], struct.unpack("!H", head[14:16])[0]
        body = _exactly(sock, length) if length else b""
    except (TimeoutError, OSError) as err:
        raise BadHeader(f"header not read: {type(err).__name__}") from None
    finally:
        sock.settimeout(saved)
    if command == _LOCAL:
        return None
    if command != _PROXY:
        raise BadHeader(f"command {command:#x}")
    if family == _TCP4 and length >= 12:
        return str(ipaddress.IPv4Address(body[:4])), struct.unpack("!H", body[8:10])[0]
    if family == _TCP6 and length >= 36:
        address = ipaddress.IPv6Address(body[:16])
        mapped = address.ipv4_mapped
        return str(mapped or address), struct.unpack("!H", body[32:34])[0]
    raise BadHeader(f"family {family:#x}")


def header(client: tuple[str, int], server: tuple[str, int]) -> bytes:
    """The header for a TCP/IPv4 client, as HAProxy writes it (for tests and tools)."""
    body = (ipaddress.IPv4Address(client[0]).packed + ipaddress.IPv4Address(server[0]).packed
            + struct.pack("!HH", client[1], server[1]))
    return SIGNATURE + bytes([_PROXY, _TCP4]) + struct.pack("!H", len(body)) + body


def _exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise BadHeader("closed before the header ended")
        data += chunk
    return data
