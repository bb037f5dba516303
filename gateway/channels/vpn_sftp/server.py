"""The VPN line, emulated as SFTP over SSH (paramiko): a thin adapter over the core operations.

Public-key login only, for contractors' handlers whose keys are registered; only the `sftp`
subsystem on a `session` channel — no shell, exec, pty, forwarding or other channel types.
Strict key exchange (Terrapin, CVE-2023-48795) is paramiko's default and stays on; only modern
algorithms are offered. Repeated failed logins lock the source (`brute-force`); too many
connections from one source are cut at once.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

import paramiko

from gateway.channels.vpn_sftp.jail import Jail
from gateway.ledger.log import Actor, Event
from gateway.operations.accounts import Caller
from gateway.operations.sshkeys import key_owner
from gateway.service import Gateway

CHANNEL = "vpn-sftp"
CIPHERS = ("aes256-gcm@openssh.com", "aes128-gcm@openssh.com", "aes256-ctr")
KEX = ("mlkem768x25519-sha256", "curve25519-sha256@libssh.org", "curve25519-sha256")
MACS = ("hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com")
WINDOW = 64 * 1024 * 1024  # a large window keeps a fast client from stalling on paramiko's acks


@dataclass
class Limits:
    """Per-source throttles: failed logins lock a source; connections are capped."""

    max_failures: int = 10
    failure_window: float = 600.0
    lockout: float = 900.0
    max_connections: int = 10
    _failures: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _locked_until: dict[str, float] = field(default_factory=dict)
    _open: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def locked(self, source: str) -> bool:
        with self._lock:
            return self._locked_until.get(source, 0.0) > time.monotonic()

    def failed(self, source: str) -> bool:
        """Count a failure; True when this one locks the source."""
        now = time.monotonic()
        with self._lock:
            q = self._failures[source]
            q.append(now)
            while q and q[0] < now - self.failure_window:
                q.popleft()
            if len(q) >= self.max_failures and self._locked_until.get(source, 0.0) <= now:
                self._locked_until[source] = now + self.lockout
                q.clear()
                return True
            return False

    def connect(self, source: str) -> bool:
        with self._lock:
            if self._open[source] >= self.max_connections:
                return False
            self._open[source] += 1
            return True

    def disconnect(self, source: str) -> None:
        with self._lock:
            self._open[source] = max(0, self._open[source] - 1)


def key_fingerprint(key: paramiko.PKey) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


class SshGate(paramiko.ServerInterface):
    """One connection's authentication and channel policy."""

    def __init__(self, gw: Gateway, source: str, limits: Limits) -> None:
        self.gw, self.source, self.limits = gw, source, limits
        self.login: str | None = None
        self.fingerprint: str | None = None
        self._logged_in = False

    def caller(self) -> Caller:
        assert self.login is not None
        return Caller(self.login, CHANNEL, source=self.source, ssh_key=self.fingerprint)

    def caller_actor(self) -> Actor:
        return Actor(user=self.login, role="contractor", ssh_key=self.fingerprint)

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_none(self, username: str) -> int:
        return paramiko.AUTH_FAILED

    def check_auth_password(self, username: str, password: str) -> int:
        return paramiko.AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        fp = key_fingerprint(key)
        if self.limits.locked(self.source):
            return paramiko.AUTH_FAILED
        with self.gw.unit() as session:
            owner = key_owner(session, fp)
        if owner is not None and owner == username:
            # paramiko asks twice per key (query, then with the verified signature): log once.
            if not self._logged_in:
                self.login, self.fingerprint, self._logged_in = username, fp, True
                self.gw.record(Event(action="auth.login", channel=CHANNEL, source=self.source,
                                     actor=Actor(user=username, role="contractor", ssh_key=fp)))
            return paramiko.AUTH_SUCCESSFUL
        locked_now = self.limits.failed(self.source)
        self.gw.record(Event(
            action="auth.login", channel=CHANNEL, source=self.source, outcome="refused",
            actor=Actor(user=_printable(username), ssh_key=fp), kinds=("brute-force",) if locked_now else (),
            reason="source locked after repeated failed logins" if locked_now else "unknown key for this user",
        ))
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session" and self.login is not None:
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        if name != "sftp" or self.login is None:
            return False
        return bool(super().check_channel_subsystem_request(channel, name))

    # Everything else an SSH server can offer is refused (paramiko's defaults, made explicit).
    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        return False

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        return False

    def check_channel_pty_request(self, *args: object) -> bool:
        return False

    def check_port_forward_request(self, address: str, port: int) -> bool:
        return False

    def check_channel_direct_tcpip_request(self, chanid: int, origin: object, destination: object) -> int:
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_global_request(self, kind: str, msg: object) -> bool:
        return False


def _printable(text: str) -> str:
    return text.encode("unicode_escape").decode("ascii")[:64]


class SftpServer:
    """Listens on (bind, port) until `stop()`; each connection gets its own paramiko Transport."""

    def __init__(self, gw: Gateway, bind: str = "127.0.0.1", port: int = 0, limits: Limits | None = None) -> None:
        self.gw = gw
        self.limits = limits or Limits()
        self.host_key = paramiko.Ed25519Key.from_private_key_file(str(gw.home.keys / "ssh_host_ed25519_key"))
        self.sock = socket.socket(socket.AF_INET6 if ":" in bind else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((bind, port))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self._stopping = threading.Event()
        self._transports: set[paramiko.Transport] = set()
        self._thread = threading.Thread(target=self._accept, name="sftp-accept", daemon=True)

    def start(self) -> "SftpServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        try:
            # close() alone does not wake a thread blocked in accept(); shutdown() does.
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()
        finally:
            for t in list(self._transports):
                t.close()
            self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, addr = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn, addr[0]), daemon=True).start()

    def _serve(self, conn: socket.socket, source: str) -> None:
        if not self.limits.connect(source):
            conn.close()
            self.gw.record(Event(action="sftp.connect", channel=CHANNEL, source=source, outcome="refused",
                                 reason="too many connections from this source"))
            return
        # paramiko never sets TCP_NODELAY: without it every SFTP request waits for Nagle and
        # delayed ACK (about 6 ms each here).
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport = paramiko.Transport(conn, default_window_size=WINDOW, strict_kex=True)
        self._transports.add(transport)
        try:
            options = transport.get_security_options()
            options.ciphers = CIPHERS
            options.kex = tuple(k for k in KEX if k in transport._preferred_kex)  # noqa: SLF001
            options.digests = MACS
            options.key_types = ("ssh-ed25519",)
            transport.add_server_key(self.host_key)
            gate = SshGate(self.gw, source, self.limits)
            transport.set_subsystem_handler("sftp", paramiko.SFTPServer, Jail)
            transport.start_server(server=gate)
            while transport.is_active() and not self._stopping.is_set():
                time.sleep(0.2)
        except (paramiko.SSHException, EOFError, OSError):
            pass  # a client that hangs up or speaks garbage; the log has what mattered
        finally:
            transport.close()
            self._transports.discard(transport)
            self.limits.disconnect(source)

