"""The PROXY protocol v2 on the portal's listener (issue 24, gap b), over real sockets: from the
balancer's address the header names the client, which is then the connection's peer (what
uvicorn's scope["client"], the throttles and the log see); a connection from there without a
readable header is dropped; from anywhere else no header is read, so no one else can claim a
source. (SFTP through HAProxy with send-proxy-v2: tests/cluster/test_cluster_command.py.)"""
from __future__ import annotations

import socket

import pytest

from gateway import proxyproto
from gateway.channels.lgwan_asp.admission import Admission, GatedListener
from gateway.errors import Invalid
from gateway.settings import load


def _listener(proxy_from: str) -> GatedListener:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    listener = GatedListener.wrap(sock, Admission(4, 16, lambda source: None, proxy_from=proxy_from))
    listener.settimeout(5)
    return listener


def _connect(port: int, source: str, first: bytes) -> socket.socket:
    c = socket.socket()
    c.bind((source, 0))
    c.connect(("127.0.0.1", port))
    c.sendall(first)
    return c


def test_the_balancer_s_header_names_the_client_and_nothing_else_can():
    listener = _listener("127.0.0.1")
    port = listener.getsockname()[1]
    relayed = _connect(port, "127.0.0.1", proxyproto.header(("192.0.2.7", 50123), ("10.0.0.11", 443)) + b"hello")
    conn, addr = listener.accept()
    assert addr == ("192.0.2.7", 50123) and conn.getpeername() == ("192.0.2.7", 50123)
    assert conn.source == "192.0.2.7" and conn.recv(5) == b"hello"  # the header is consumed, the rest left
    conn.close()
    # From the balancer's address without a header (a health check, or garbage): dropped, and the
    # next connection is the one accepted. From another address: taken as it is, header unread.
    junk = _connect(port, "127.0.0.1", b"GET / HTTP/1.1\r\n\r\n")
    other = _connect(port, "127.0.0.2", proxyproto.header(("192.0.2.8", 1), ("10.0.0.11", 443)))
    conn, addr = listener.accept()
    assert addr[0] == "127.0.0.2" and conn.getpeername()[0] == "127.0.0.2"
    assert conn.recv(12) == proxyproto.SIGNATURE  # not read as a header: just bytes (TLS will refuse them)
    assert _closed(junk)  # by the listener
    for s in (conn, relayed, junk, other, listener):
        s.close()


def _closed(c: socket.socket) -> bool:
    try:
        return c.recv(1) == b""
    except ConnectionResetError:  # closed with our bytes unread
        return True


def test_without_the_setting_no_header_is_read():
    listener = _listener("")
    c = _connect(listener.getsockname()[1], "127.0.0.1", proxyproto.header(("192.0.2.7", 1), ("10.0.0.11", 443)))
    conn, addr = listener.accept()
    assert addr[0] == "127.0.0.1" and conn.recv(12) == proxyproto.SIGNATURE
    for s in (conn, c, listener):
        s.close()


def test_the_setting_is_an_address(tmp_path):
    with pytest.raises(Invalid) as refused:
        load(tmp_path, {"GATEWAY_CLUSTER_PROXY_PROTOCOL_FROM": "haproxy.local"})
    assert "IP アドレス" in refused.value.ja and "must be an IP address" in refused.value.en
    assert load(tmp_path, {"GATEWAY_CLUSTER_PROXY_PROTOCOL_FROM": "10.0.0.5"}).cluster.proxy_protocol_from == "10.0.0.5"
