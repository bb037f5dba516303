"""Attacks on the SSH layer, and paramiko's own regression tests for CVE-2018-7750 and
CVE-2018-1000805 ported to run against our server over a real socket."""
from __future__ import annotations

import socket
import threading

import paramiko
import pytest
from paramiko.common import (
    MSG_USERAUTH_BANNER,
    MSG_USERAUTH_FAILURE,
    MSG_USERAUTH_INFO_REQUEST,
    MSG_USERAUTH_SUCCESS,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    WARNING,
    byte_chr,
)

from tests.conftest import run_gateway
from tests.sftp.conftest import keypair, log


class WatchedTransport(paramiko.Transport):
    """A client transport that notices when the server answers MSG_UNIMPLEMENTED (paramiko's
    tests mock the server's _send_message; over a real socket we watch the client instead)."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self.unimplemented = threading.Event()

    def _log(self, level, msg, *args):  # type: ignore[no-untyped-def]
        if level == WARNING and "unhandled type 3" in str(msg):
            self.unimplemented.set()
        super()._log(level, msg, *args)


def connected(sftp) -> WatchedTransport:
    t = WatchedTransport(socket.create_connection(("127.0.0.1", sftp.port), timeout=10))
    t.start_client(timeout=10)  # key exchange only, no authentication: connect_kwargs={} upstream
    return t


def logins_ok(sftp) -> int:
    return len(log(sftp.home, action="auth.login", outcome="ok"))


# -- CVE-2018-7750: the server must not serve requests before authentication -----------------

def test_server_rejects_open_channel_without_auth(sftp):
    t = connected(sftp)
    with pytest.raises(paramiko.ChannelException) as info:
        t.open_session(timeout=5)
    assert info.value.code == OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
    t.close()


def test_server_rejects_port_forward_and_global_requests_without_auth(sftp):
    t = connected(sftp)
    with pytest.raises(paramiko.SSHException, match="forwarding request denied"):
        t.request_port_forward("127.0.0.1", 0)
    t.global_request("keepalive@openssh.com")
    assert t.global_response is None  # refused (paramiko signals that only this way)
    with pytest.raises(paramiko.ChannelException):
        t.open_channel("direct-tcpip", ("127.0.0.1", 22), ("127.0.0.1", 0), timeout=5)
    t.close()


# -- CVE-2018-1000805: client-only message types must not move the server's auth state --------

@pytest.mark.parametrize("message_type", [MSG_USERAUTH_SUCCESS, MSG_USERAUTH_FAILURE, MSG_USERAUTH_BANNER,
                                          MSG_USERAUTH_INFO_REQUEST])
@pytest.mark.parametrize("auth_started", [False, True], ids=["before-userauth", "during-userauth"])
def test_server_rejects_client_message_types(sftp, message_type, auth_started):
    before = logins_ok(sftp)
    t = connected(sftp)
    if auth_started:
        # Start the ssh-userauth service so the server's auth handler exists (a "none" attempt:
        # refused, and not counted against the source).
        with pytest.raises(paramiko.BadAuthenticationType):
            t.auth_none("k.tanaka")
    msg = paramiko.Message()
    msg.add_byte(byte_chr(message_type))
    t._send_message(msg)  # noqa: SLF001 - the attack itself
    assert t.unimplemented.wait(5), "the server handled a client-only message type"
    t.authenticated = True  # the client now pretends; the server must not
    with pytest.raises((paramiko.ChannelException, paramiko.SSHException, EOFError)):
        t.open_session(timeout=5)
    t.close()
    assert logins_ok(sftp) == before


# -- the rest of the SSH surface --------------------------------------------------------------

def test_shell_exec_pty_env_and_forwarding_are_refused_after_login(sftp):
    t = paramiko.Transport(socket.create_connection(("127.0.0.1", sftp.port), timeout=10))
    t.start_client(timeout=10)
    t.auth_publickey("k.tanaka", paramiko.Ed25519Key.from_private_key_file(str(sftp.key)))
    for attempt in (lambda c: c.exec_command("id"), lambda c: c.invoke_shell(), lambda c: c.get_pty(),
                    lambda c: c.invoke_subsystem("not-sftp")):
        channel = t.open_session()
        with pytest.raises(paramiko.SSHException):
            attempt(channel)
    with pytest.raises(paramiko.ChannelException):
        t.open_channel("direct-tcpip", ("127.0.0.1", 22), ("127.0.0.1", 0))
    with pytest.raises(paramiko.ChannelException):
        t.open_channel("x11", src_addr=("127.0.0.1", 6000))
    with pytest.raises(paramiko.SSHException, match="denied"):
        t.request_port_forward("127.0.0.1", 0)
    t.close()


def test_only_our_algorithms_are_negotiated(sftp):
    t = paramiko.Transport(socket.create_connection(("127.0.0.1", sftp.port), timeout=10))
    t.start_client(timeout=10)
    assert t.remote_cipher == "aes256-gcm@openssh.com" and t.host_key_type == "ssh-ed25519"
    assert t.agreed_on_strict_kex  # Terrapin (CVE-2023-48795)
    t.close()
    weak = paramiko.Transport(socket.create_connection(("127.0.0.1", sftp.port), timeout=10))
    weak.get_security_options().ciphers = ("aes128-ctr", "aes256-cbc")
    with pytest.raises((paramiko.SSHException, EOFError)):
        weak.start_client(timeout=10)
    weak.close()


def test_another_users_key_does_not_log_in(sftp, tmp_path):
    # k.tanaka's key, presented as m.mori (a designated handler too, with no key of their own).
    proc = sftp.run("ls /outbox\n", user="m.mori")
    assert proc.returncode != 0 and sftp.transfer not in proc.stdout
    refused = log(sftp.home, action="auth.login", outcome="refused")[-1]
    assert refused["actor"]["user"] == "m.mori" and refused["reason"] == "key not registered to this user"


def test_another_organisation_sees_and_gets_nothing(sftp, tmp_path):
    # y.hirano: a designated handler of the subcontractor under the same approval.
    key = keypair(tmp_path, "hirano")
    run_gateway("user", "add-key", "y.hirano", str(key) + ".pub")
    (tmp_path / "f").write_bytes(b"x")
    proc = sftp.run(f"ls -l /outbox\n-get /outbox/{sftp.transfer}.age stolen.age\n"
                    f"-put f /inbox/{sftp.transfer}.planted.pdf\n", user="y.hirano", key=key)
    assert proc.returncode == 0, proc.stderr
    listing = [line for line in proc.stdout.splitlines() if not line.startswith("sftp>")]
    assert not any(sftp.transfer in line for line in listing)
    assert not (tmp_path / "stolen.age").exists()
    assert any(e["actor"]["user"] == "y.hirano" for e in log(sftp.home, action="deliverable.upload",
                                                              outcome="refused"))
