"""The VPN line, emulated as SFTP over SSH (paramiko): a thin adapter over the core operations.

Public-key login only, for contractors' handlers whose keys are registered; only the `sftp`
subsystem on a `session` channel — no shell, exec, pty, forwarding, agent, X11 or other channel
types. Strict key exchange (Terrapin, CVE-2023-48795) is on (`strict_kex=True`, paramiko's default
since 3.4) and only modern algorithms are offered (`algorithms.py`). Repeated failed logins lock
the source (`brute-force`); too many connections from one source are cut before the SSH banner.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import threading
import time

import paramiko

from gateway.channels.vpn_sftp.algorithms import restrict
from gateway.channels.vpn_sftp.jail import Jail
from gateway.channels.vpn_sftp.limits import Limits
from gateway.channels.vpn_sftp.lockout import SharedLockout
from gateway.channels.vpn_sftp.protocol import GatewaySftpServer
from gateway.errors import Forbidden, Unauthenticated
from gateway.findings import Kind
from gateway.ledger.log import SYSTEM, Actor, Event
from gateway.operations.accounts import Caller
from gateway.operations.attempt import refuse
from gateway.operations.sshkeys import key_owner
from gateway.service import Gateway

__all__ = ["CHANNEL", "Limits", "SftpServer", "SshGate", "key_fingerprint"]

CHANNEL = "vpn-sftp"
# A large receive window keeps a fast uploader from stalling on paramiko's window adjustments.
WINDOW = 64 * 1024 * 1024
# The largest channel packet we accept (paramiko's default is 32 KiB). OpenSSH then sends an
# upload's 255 KiB writes in fewer, larger packets: each packet costs paramiko Python time, the
# bytes in it almost none. Well inside SSH's 256 KiB packet limit with its headers.
MAX_PACKET = 128 * 1024
BANNER_TIMEOUT = 5.0
HANDSHAKE_TIMEOUT = 10.0
AUTH_TIMEOUT = 30.0  # seconds from the banner to a successful login


def key_fingerprint(key: paramiko.PKey) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


def _printable(text: str) -> str:
    """A client-chosen name, safe for a log line."""
    return text.encode("unicode_escape").decode("ascii")[:64]


class SshGate(paramiko.ServerInterface):
    """One connection's authentication and channel policy."""

    def __init__(self, gw: Gateway, source: str, limits: Limits, transport: paramiko.Transport) -> None:
        self.gw, self.source, self.limits, self.transport = gw, source, limits, transport
        # paramiko asks check_auth_publickey *before* it verifies the signature (and for a bare
        # "would this key do?" query, without any): an accepted key is only a candidate until
        # the transport says the login succeeded.
        self._candidate: tuple[str, str] | None = None
        self.login: str | None = None
        self.fingerprint: str | None = None

    def caller(self) -> Caller:
        assert self.login is not None
        return Caller(self.login, CHANNEL, source=self.source, ssh_key=self.fingerprint)

    def caller_actor(self) -> Actor:
        return Actor(user=self.login, role="contractor", ssh_key=self.fingerprint)

    # -- authentication -------------------------------------------------------------------

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_none(self, username: str) -> int:
        return paramiko.AUTH_FAILED

    def check_auth_password(self, username: str, password: str) -> int:
        return paramiko.AUTH_FAILED

    def check_auth_interactive(self, username: str, submethods: str) -> int:
        return paramiko.AUTH_FAILED

    def check_auth_gssapi_with_mic(self, *args: object) -> int:
        return paramiko.AUTH_FAILED

    def check_auth_gssapi_keyex(self, *args: object) -> int:
        return paramiko.AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if self.limits.locked(self.source):
            return paramiko.AUTH_FAILED
        fp = key_fingerprint(key)
        # A snapshot: a login attempt (or a flood of them) never queues for the write lock.
        with self.gw.read() as session:
            owner = key_owner(session, fp)
        if owner is not None and owner == username:
            self._candidate = (username, fp)
            return paramiko.AUTH_SUCCESSFUL
        locked_now = self.limits.failed(self.source)
        refuse(self.gw, Actor(user=_printable(username), ssh_key=fp), "auth.login", Unauthenticated(
            "ログインできませんでした。失敗が続いたため接続元をロックしました。" if locked_now
            else "ログインできませんでした。この利用者に登録された鍵ではありません。",
            "source locked after repeated failed logins" if locked_now else "key not registered to this user",
            kinds=[Kind.BRUTE_FORCE] if locked_now else ()), channel=CHANNEL, source=self.source)
        return paramiko.AUTH_FAILED

    def _authenticated(self) -> bool:
        """Logged in for real (signature verified); the login is logged here, once."""
        if not self.transport.is_authenticated() or self._candidate is None:
            return False
        username, fp = self._candidate
        if self.transport.get_username() != username:
            return False
        if self.login is None:
            self.login, self.fingerprint = username, fp
            self.gw.record(Event(action="auth.login", channel=CHANNEL, source=self.source,
                                 actor=Actor(user=username, role="contractor", ssh_key=fp), reason="publickey"))
        return True

    # -- channels ---------------------------------------------------------------------------

    def check_channel_request(self, kind: str, chanid: int) -> int:
        # paramiko itself refuses channels before authentication since CVE-2018-7750; checking
        # again here keeps that true whatever paramiko version is installed.
        if kind == "session" and self._authenticated():
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        if name != "sftp" or not self._authenticated():
            return False
        return bool(super().check_channel_subsystem_request(channel, name))

    # Everything else an SSH server can offer is refused (paramiko's defaults, made explicit).
    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        return False

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        return False

    def check_channel_pty_request(self, *args: object) -> bool:
        return False

    def check_channel_x11_request(self, *args: object) -> bool:
        return False

    def check_channel_forward_agent_request(self, channel: paramiko.Channel) -> bool:
        return False

    def check_channel_env_request(self, channel: paramiko.Channel, name: bytes, value: bytes) -> bool:
        return False

    def check_port_forward_request(self, address: str, port: int) -> bool:
        return False

    def check_channel_direct_tcpip_request(self, chanid: int, origin: object, destination: object) -> int:
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_global_request(self, kind: str, msg: object) -> bool:
        return False


class SftpServer:
    """Listens on (bind, port) until `stop()`; each connection gets its own paramiko Transport."""

    def __init__(self, gw: Gateway, bind: str = "127.0.0.1", port: int = 0, limits: Limits | None = None) -> None:
        self.gw = gw
        # Several nodes share one PostgreSQL database: a source locked on one is locked on all.
        shared = SharedLockout(gw.engine) if gw.engine.dialect.name == "postgresql" else None
        self.limits = limits or Limits.of(gw.settings.sftp, shared)
        self.proxy_from = gw.settings.cluster.proxy_protocol_from
        self.host_key = paramiko.Ed25519Key.from_private_key_file(str(gw.home.keys / "ssh_host_ed25519_key"))
        self.sock = socket.socket(socket.AF_INET6 if ":" in bind else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((bind, port))
        self.sock.listen(64)
        self.port: int = self.sock.getsockname()[1]
        self._stopping = threading.Event()
        self._transports: set[paramiko.Transport] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="sftp-accept", daemon=True)

    def start(self) -> SftpServer:
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
            with self._lock:
                transports = list(self._transports)
            for t in transports:
                t.close()
            for t in transports:
                t.join(timeout=5)  # uploads cut short are cleaned up and logged before we return
            self._thread.join(timeout=5)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def drain(self, grace: float) -> int:
        """A graceful stop's first half: accept no one new, then give the logged-in sessions open
        now up to `grace` seconds to finish their transfers. Returns how many are still open
        (stop() ends them). A connection that has not logged in has no transfer to finish: it is
        not waited for."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        deadline = time.monotonic() + grace
        while True:
            with self._lock:
                left = sum(1 for t in self._transports if t.is_authenticated())
            if not left or time.monotonic() >= deadline:
                return left
            self._stopping.wait(0.1)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, addr = self.sock.accept()
            except OSError:
                return
            source = addr[0]
            if self.proxy_from and source == self.proxy_from:
                # The balancer's PROXY v2 header names the client: in a thread of its own, so that
                # a slow or broken one does not hold up the accept loop.
                threading.Thread(target=self._admit_relayed, args=(conn,), name="sftp-proxy", daemon=True).start()
                continue
            self._admit(conn, source)

    def _admit_relayed(self, conn: socket.socket) -> None:
        from gateway import proxyproto

        try:
            peer = proxyproto.read(conn, timeout=2.0)
        except proxyproto.BadHeader:
            peer = None
        if peer is None:  # a health check, or not a header we can read: nothing to serve
            conn.close()
            return
        self._admit(conn, peer[0])

    def _admit(self, conn: socket.socket, source: str) -> None:
        if self.limits.locked(source) or not self.limits.connect(source):
            conn.close()  # before the banner: a flood costs us no key exchange
            what = "locked" if self.limits.locked(source) else "flood"
            if what == "flood" and self.limits.worth_logging(source, what):
                # The one refusal not logged every time: a flood would otherwise write the log full.
                refuse(self.gw, SYSTEM, "sftp.connect", Forbidden(
                    "接続元からの接続が多すぎます。", "too many connections from this source; further ones are cut "
                    "without a log entry for a minute"), channel=CHANNEL, source=source)
            return
        try:
            # paramiko never sets TCP_NODELAY: without it every SFTP reply waits for Nagle and
            # the client's delayed ACK (about 6 ms each here).
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            transport = paramiko.Transport(conn, default_window_size=WINDOW, default_max_packet_size=MAX_PACKET,
                                           strict_kex=True)
            transport.auth_timeout = AUTH_TIMEOUT
            # A client sends its banner at once and finishes the key exchange in well under a
            # second: a connection that does neither holds a thread and a descriptor for nothing.
            transport.banner_timeout = BANNER_TIMEOUT
            transport.handshake_timeout = HANDSHAKE_TIMEOUT
            restrict(transport)
            transport.add_server_key(self.host_key)
            transport.set_subsystem_handler("sftp", GatewaySftpServer, Jail)
            with self._lock:
                self._transports.add(transport)
            # start_server without an event runs the handshake in the transport's own thread
            # and returns at once: no thread of ours waits on a slow or silent client.
            transport.start_server(event=threading.Event(), server=SshGate(self.gw, source, self.limits, transport))
        except (paramiko.SSHException, OSError):
            # The socket died before the transport's thread started (a client that connects and
            # resets at once): there is nothing to log and nothing to keep.
            self._release(conn, source, None)
            return
        threading.Thread(target=self._reap, args=(transport, conn, source), name="sftp-reap", daemon=True).start()

    def _reap(self, transport: paramiko.Transport, conn: socket.socket, source: str) -> None:
        """Give the connection's slot back when its transport ends."""
        transport.join()
        self._release(conn, source, transport)

    def _release(self, conn: socket.socket, source: str, transport: paramiko.Transport | None) -> None:
        if transport is not None:
            transport.close()
            with self._lock:
                self._transports.discard(transport)
        with contextlib.suppress(OSError):
            conn.close()
        self.limits.disconnect(source)
