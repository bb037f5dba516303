"""systemd's readiness protocol (sd_notify(3)), without libsystemd: one datagram per state.

Under `Type=notify` systemd starts the units that need the gateway only once it said READY=1,
which `gateway serve` says after every port is bound and every channel is serving; STOPPING=1
when a stop begins, so `systemctl status` shows that it is finishing transfers in flight.
Outside systemd ($NOTIFY_SOCKET unset) every call does nothing.
"""
from __future__ import annotations

import os
import socket


def notify(*states: str) -> bool:
    """Send `states` (e.g. "READY=1", "STATUS=serving"); False when there is no one to tell."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address or not states:
        return False
    if address.startswith("@"):  # an abstract socket, named without the leading NUL byte
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.connect(address)
        sock.sendall("\n".join(states).encode("utf-8"))
    return True
