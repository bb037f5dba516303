"""The VPN line as SFTP: the stock OpenSSH client against our server, and what it must refuse."""
from __future__ import annotations

import socket
import time
from datetime import datetime

import paramiko
import pytest

from tests.conftest import move_clock, run_gateway
from tests.sftp.conftest import fresh_transfer, keypair, log


def listed(proc) -> str:
    """What the server answered, without the batch commands sftp echoes."""
    return "\n".join(line for line in proc.stdout.splitlines() if not line.startswith("sftp>"))


def test_designated_handler_lists_downloads_and_decrypts(sftp, tmp_path):
    proc = sftp.run(f"ls -l /outbox\nget /outbox/{sftp.transfer}.age got.age\n")
    assert proc.returncode == 0, proc.stderr
    assert f"{sftp.transfer}.age" in proc.stdout
    (tmp_path / "pass").write_text(sftp.passphrase)
    out = run_gateway("package", "decrypt", str(tmp_path / "got.age"), "-o", str(tmp_path / "plain.csv"),
                      "--passphrase-file", str(tmp_path / "pass")).stdout
    assert sftp.sha256 in out and "records: 200" in out
    download = log(sftp.home, action="transfer.download")[-1]
    assert download["channel"] == "vpn-sftp" and download["source"] == "127.0.0.1"
    assert download["actor"]["ssh_key"].startswith("SHA256:") and download["actor"]["user"] == "k.tanaka"


def test_a_handler_not_on_the_list_sees_nothing(sftp, tmp_path):
    run_gateway("user", "add", "x.outsider", "--org", "chikugo-print", "--role", "contractor", "--name", "外")
    key = keypair(tmp_path, "outsider")
    run_gateway("user", "add-key", "x.outsider", str(key) + ".pub")
    proc = sftp.run(f"ls /outbox\n-get /outbox/{sftp.transfer}.age stolen.age\n", user="x.outsider", key=key)
    assert sftp.transfer not in listed(proc) and not (tmp_path / "stolen.age").exists()
    assert log(sftp.home, action="transfer.download", outcome="refused")[-1]["kinds"] == ["non-designated-handler"]


def test_deliverable_upload_lands_under_its_transfer(sftp, tmp_path):
    (tmp_path / "proof.pdf").write_bytes(b"%PDF-1.4 proof")
    proc = sftp.run(f"put proof.pdf /inbox/{sftp.transfer}.proof.pdf\nls /inbox\n-put proof.pdf /inbox/no-transfer.pdf\n")
    assert proc.returncode == 0, proc.stderr
    uploads = log(sftp.home, action="deliverable.upload", outcome="ok")
    assert [e["object"]["transfer"] for e in uploads][-1] == sftp.transfer
    assert not any((sftp.home / "work").glob("*.upload"))


@pytest.mark.parametrize("command", [
    "put {src} /outbox/planted.age", "get /etc/passwd", "get ../../etc/passwd", "get /outbox/../../etc/passwd",
    "rm /outbox/{transfer}.age", "rename /outbox/{transfer}.age /inbox/x", "mkdir /inbox/d",
    "symlink /etc/passwd /inbox/link", "chmod 777 /outbox/{transfer}.age", "get /inbox/anything",
])
def test_the_jail_refuses(sftp, tmp_path, command):
    (tmp_path / "src").write_bytes(b"x")
    before = len(log(sftp.home, outcome="refused"))
    proc = sftp.run(command.format(src="src", transfer=sftp.transfer) + "\n")
    assert proc.returncode != 0
    # Every refusal, on this channel too, is exactly one entry (issue 16). A path outside the jail's
    # two folders does not exist there: the client's stat is answered "no such file", as for any
    # missing file, and nothing is refused.
    refused = 0 if command.startswith("get ") else 1
    assert len(log(sftp.home, outcome="refused")) == before + refused
    assert not (tmp_path / "passwd").exists()
    assert sftp.run("ls /outbox\n").stdout.count(".age") == 1  # the package is still there, alone


@pytest.mark.parametrize("content,message", [
    ("", "OpenSSH"), ("garbage", "OpenSSH"), ("ssh-ed25519 AAAAnotbase64", "read"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n", "private key"),
])
def test_bad_keys_are_refused(sftp, tmp_path, content, message):
    path = tmp_path / "k.pub"
    path.write_text(content)
    proc = run_gateway("user", "add-key", "m.mori", str(path), check=False)
    assert proc.returncode == 1 and message in proc.stderr


def test_weak_and_borrowed_keys_are_refused(sftp, tmp_path):
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(tmp_path / "rsa")], check=True)
    assert "too short" in run_gateway("user", "add-key", "m.mori", str(tmp_path / "rsa.pub"), check=False).stderr
    borrowed = run_gateway("user", "add-key", "m.mori", str(sftp.key) + ".pub", check=False)
    assert borrowed.returncode == 1 and "another person" in borrowed.stderr
    staff = run_gateway("user", "add-key", "s.staff", str(keypair(tmp_path, "staff")) + ".pub", check=False)
    assert staff.returncode == 1


def client(sftp, *, connect: bool = True) -> paramiko.Transport:
    sock = socket.create_connection(("127.0.0.1", sftp.port), timeout=10)
    t = paramiko.Transport(sock)
    if connect:
        t.start_client(timeout=10)
    return t


def test_an_unregistered_key_fails_and_repeated_failures_lock_the_source(sftp, tmp_path):
    stranger = paramiko.Ed25519Key.from_private_key_file(str(keypair(tmp_path, "stranger")))
    for _ in range(5):
        t = client(sftp)
        with pytest.raises(paramiko.AuthenticationException):
            t.auth_publickey("k.tanaka", stranger)
        t.close()
    # Locked: this source is cut before the SSH banner, even with the right key.
    proc = sftp.run("ls /outbox\n")
    assert proc.returncode != 0 and sftp.transfer not in proc.stdout
    refused = log(sftp.home, action="auth.login", outcome="refused")
    assert ["brute-force"] in [e["kinds"] for e in refused]


def test_shell_exec_and_forwarding_are_refused(sftp):
    t = client(sftp)
    t.auth_publickey("k.tanaka", paramiko.Ed25519Key.from_private_key_file(str(sftp.key)))
    for attempt in (lambda c: c.exec_command("id"), lambda c: c.invoke_shell(), lambda c: c.get_pty()):
        channel = t.open_session()
        with pytest.raises(paramiko.SSHException):
            attempt(channel)
    with pytest.raises(paramiko.ChannelException):
        t.open_channel("direct-tcpip", ("127.0.0.1", 22), ("127.0.0.1", 0))
    with pytest.raises(paramiko.SSHException, match="denied"):
        t.request_port_forward("127.0.0.1", 0)
    t.close()


def test_a_flood_of_connections_is_cut(sftp):
    held = [client(sftp, connect=False) for _ in range(4)]
    for t in held:
        t.start_client(timeout=10)
    extra = socket.create_connection(("127.0.0.1", sftp.port), timeout=5)
    extra.settimeout(5)
    assert extra.recv(100) == b""  # closed at once, before the SSH banner
    extra.close()
    for t in held:
        t.close()
    time.sleep(0.5)
    assert log(sftp.home, action="sftp.connect", outcome="refused")


def test_a_client_that_disconnects_mid_upload_leaves_nothing(sftp):
    t = client(sftp)
    t.auth_publickey("k.tanaka", paramiko.Ed25519Key.from_private_key_file(str(sftp.key)))
    channel = paramiko.SFTPClient.from_transport(t)
    f = channel.open(f"/inbox/{sftp.transfer}.partial.csv", "wb")
    f.write(b"x" * 100_000)
    f.flush()
    t.close()  # gone, without closing the file
    deadline = time.time() + 10
    while not log(sftp.home, action="deliverable.upload", outcome="failed") and time.time() < deadline:
        time.sleep(0.2)
    assert log(sftp.home, action="deliverable.upload", outcome="failed")
    assert not any((sftp.home / "work").glob("*.upload"))


def test_reads_are_capped_and_past_the_end_is_eof(sftp, installation, tmp_path):
    """A READ asks for any length up to 4 GiB: the answer is at most what we advertise (a short
    read, which SFTP allows), never an allocation of what was asked; past the end is EOF."""
    from paramiko.sftp import CMD_DATA, CMD_READ
    from paramiko.sftp_client import int64

    from gateway.channels.vpn_sftp.protocol import MAX_READ

    t = client(sftp)
    t.auth_publickey("k.tanaka", paramiko.Ed25519Key.from_private_key_file(str(sftp.key)))
    c = paramiko.SFTPClient.from_transport(t)
    path = f"/outbox/{fresh_transfer(installation, tmp_path)['transfer']}.age"  # its one complete download
    with c.open(path, "rb") as f:
        package = f.read()  # paramiko's own 32 KiB requests
        assert len(package) == c.stat(path).st_size > 0

        def read(offset: int, length: int) -> bytes:
            kind, msg = c._request(CMD_READ, f.handle, int64(offset), length)
            assert kind == CMD_DATA
            return msg.get_string()

        assert read(0, 0xFFFFFFFF) == package[:MAX_READ]
        assert read(len(package) - 10, 0xFFFFFFFF) == package[-10:]
        for offset in (len(package), 2**63 - 1, 2**64 - 1):
            with pytest.raises(EOFError):
                read(offset, 100)
    # The session is still good: it answers a second whole download, which the package's limit
    # (one complete download) refuses, as it should.
    with pytest.raises(OSError), c.open(path, "rb") as f:  # refused at the open
        f.read()
    t.close()
    assert log(sftp.home, action="transfer.download")[-1]["kinds"] == ["download-over-limit"]


def test_zz_download_after_erasure_is_refused(sftp, tmp_path):
    """Runs last in the module: it erases the module's package."""
    late = "2020-07-01T00:00:00+09:00"
    move_clock(late)  # the log's times never go back: the rehearsal goes on from the sweep's time
    run_gateway("retention", "sweep", "--now", late)
    sftp.server.gw.clock.set(datetime.fromisoformat(late))
    proc = sftp.run(f"ls /outbox\n-get /outbox/{sftp.transfer}.age late.age\n")
    assert sftp.transfer not in listed(proc) and not (tmp_path / "late.age").exists()
    refused = log(sftp.home, action="transfer.download", outcome="refused")
    assert ["access-after-deletion"] in [e["kinds"] for e in refused]
