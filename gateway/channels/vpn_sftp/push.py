"""`gateway push`: deliver a package to the contractor's own SFTP server (OpenSSH, or any server
that offers `posix-rename@openssh.com`), with the host key pinned per organisation.

The gateway logs in with its own push key (`<home>/keys/ssh_push_ed25519_key`, made on first
use; the contractor adds the public half to its authorized_keys). A host key other than the pinned
one is refused before authentication — nothing is sent to a server we cannot name — and logged.
The package goes up under a temporary dot-name, is read back and checked for size and SHA-256, and
only then renamed to `<transfer>.age`; on any failure the temporary file is removed.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import posixpath
import secrets
import socket
from dataclasses import dataclass
from typing import BinaryIO

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from gateway.channels.vpn_sftp.algorithms import restrict
from gateway.core.transfers import refuse_if_held
from gateway.crypto.keystore import KeyStore
from gateway.errors import Forbidden, Gone, Invalid, NotFound, Refused, Unavailable
from gateway.findings import Kind
from gateway.fsutil import write_secret
from gateway.ledger.log import Actor
from gateway.operations.accounts import Caller
from gateway.operations.attempt import Attempt, attempt
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.blobs import BlobStore
from gateway.store.models_ssh import PinnedHost

CHANNEL = "vpn-sftp"
PUSH_KEY = "ssh_push_ed25519_key"
# Host-key algorithms to ask for, by the type of the pinned key: only the pinned one is offered,
# so the server cannot answer with another key of its own.
HOST_KEY_ALGORITHMS = {
    "ssh-ed25519": ("ssh-ed25519",),
    "ecdsa-sha2-nistp256": ("ecdsa-sha2-nistp256",),
    "ecdsa-sha2-nistp384": ("ecdsa-sha2-nistp384",),
    "ecdsa-sha2-nistp521": ("ecdsa-sha2-nistp521",),
    "ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256"),
}
WINDOW = 16 * 1024 * 1024
TIMEOUT = 30.0


@dataclass(frozen=True)
class Pushed:
    transfer: str
    destination: str  # user@host:port/dir/name
    size: int
    sha256: str


def fingerprint_of(key_line: str) -> str:
    blob = base64.b64decode(key_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def push_key(keys: KeyStore) -> paramiko.Ed25519Key:
    """The gateway's client key for pushes; created (0600, never overwritten) on first use."""
    path = keys.root / PUSH_KEY
    if not path.exists():
        private = ed25519.Ed25519PrivateKey.generate()
        write_secret(path, private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                                 serialization.NoEncryption()))
        public = private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        (keys.root / f"{PUSH_KEY}.pub").write_bytes(public + b" lgwan-gateway-push\n")
    return paramiko.Ed25519Key.from_private_key_file(str(path))


def push_public_key(keys: KeyStore) -> str:
    key = push_key(keys)
    return f"{key.get_name()} {key.get_base64()} lgwan-gateway-push"


def push(gw: Gateway, transfer_id: str, *, as_login: str | Caller | None, cli: Actor) -> Pushed:
    """Push one transfer's package to its recipient's pinned server. Every outcome is logged: a
    refusal by the attempt, a failure on the way (unreachable, our key refused, a bad read-back)
    here, as `failed`, and the verified delivery as `ok`."""
    who: Caller | Actor = cli if as_login is None else as_login if isinstance(as_login, Caller) \
        else Caller(as_login, "cli")
    with attempt(gw, who, "transfer.push", channel=CHANNEL) as a:
        transfer, pin = _authorised(a, transfer_id, staff_only=as_login is not None)
        return _push(a, transfer, pin)


def _push(a: Attempt, transfer: m.Transfer, pin: PinnedHost) -> Pushed:
    gw, transfer_id = a.gw, transfer.id
    destination = f"{pin.username}@{pin.host}:{pin.port}{posixpath.join(pin.directory, transfer_id + '.age')}"

    def failed(reason: str, ja: str, en: str) -> Unavailable:
        gw.record(a.event(outcome="failed", reason=reason))
        return Unavailable(ja, en)  # not a refusal: logged here as failed, and by nothing else

    blobs = gw.blobs()
    with gw.read() as session:
        data_key = blobs.data_key(session, transfer.package_blob_id)
    try:
        transport = _connect(pin)
    except (OSError, paramiko.SSHException, EOFError) as err:
        raise failed(f"cannot reach {destination}: {type(err).__name__}",
                     f"送付先 {pin.host}:{pin.port} に接続できません。",
                     f"cannot connect to {pin.host}:{pin.port}.") from None
    try:
        presented = transport.get_remote_server_key()
        presented_line = f"{presented.get_name()} {presented.get_base64()}"
        if not _same_key(presented_line, pin.host_key):
            raise Forbidden(
                f"送付先 {pin.host}:{pin.port} のホスト鍵が登録済みの鍵と異なります。送信を中止しました。"
                "受託者に鍵の変更を確認し、正しければ `gateway org pin-host` で登録し直してください。",
                f"the host key of {pin.host}:{pin.port} changed: pinned {fingerprint_of(pin.host_key)}, presented "
                f"{fingerprint_of(presented_line)}; nothing was sent. Confirm the change with the contractor and, "
                "if it is genuine, pin the new key with `gateway org pin-host`.")
        try:
            transport.auth_publickey(pin.username, push_key(gw.keys))
        except paramiko.AuthenticationException:
            raise failed(f"{destination}: the server refused the gateway's push key",
                         "送付先がゲートウェイの鍵を受け付けませんでした。受託者に公開鍵の登録を依頼してください。",
                         "the server refused the gateway's push key; ask the contractor to authorise it.") from None
        size, digest = _upload(transport, pin, transfer_id, transfer.package_blob_id, data_key, blobs,
                               transfer.package_sha256)
    except (OSError, paramiko.SSHException, EOFError) as err:
        raise failed(f"{destination}: {type(err).__name__}: {err}"[:300],
                     f"送信に失敗しました（{type(err).__name__}）。送付先には何も残していません。",
                     f"the push failed ({type(err).__name__}); nothing was left at the destination.") from None
    except _Mismatch as err:
        raise failed(f"{destination}: {err}", "送付先で読み戻したファイルが一致しません。送付先には何も残していません。",
                     "the file read back from the destination does not match; nothing was left there.") from None
    finally:
        transport.close()
    gw.record(a.event(blob_sha256=transfer.package_sha256, reason=f"{destination}, {size} bytes, verified by reading back"))
    return Pushed(transfer_id, destination, size, digest)


def _authorised(a: Attempt, transfer_id: str, *, staff_only: bool) -> tuple[m.Transfer, PinnedHost]:
    with a.gw.read() as session:
        transfer = session.get(m.Transfer, transfer_id)
        if transfer is None:
            raise NotFound(f"受け渡し「{transfer_id}」は見つかりません。", f"no transfer '{transfer_id}'.")
        a.approval, a.transfer = transfer.approval_id, transfer_id
        user = a.user if staff_only else None
        if user is not None and (user.role != "staff" or user.organisation_id != transfer.sender_organisation_id):
            raise Forbidden("送信元の市の職員だけがこの受け渡しを送信できます。",
                            "only staff of the sending city may push this transfer.")
        if transfer.channel != CHANNEL:
            raise Refused.one(Kind.UNAPPROVED_CHANNEL,
                              f"この受け渡しの経路は {transfer.channel} です。VPN（SFTP）では送れません。",
                              f"this transfer's channel is {transfer.channel}, not vpn-sftp.")
        refuse_if_held(transfer.state)
        if transfer.erased_at is not None:
            raise Gone("この受け渡しのデータは消去済みです。", "this transfer's data was erased.",
                       kinds=[Kind.ACCESS_AFTER_DELETION])
        pin = session.get(PinnedHost, transfer.recipient_organisation_id)
        if pin is None:
            raise NotFound(
                f"組織「{transfer.recipient_organisation_id}」の送付先サーバーが登録されていません（gateway org pin-host）。",
                f"no server is pinned for '{transfer.recipient_organisation_id}' (gateway org pin-host).")
        session.expunge(transfer)
        session.expunge(pin)
        return transfer, pin


def _connect(pin: PinnedHost) -> paramiko.Transport:
    sock = socket.create_connection((pin.host, pin.port), timeout=TIMEOUT)
    # paramiko never sets TCP_NODELAY; without it every pipelined write waits on Nagle.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    transport = paramiko.Transport(sock, default_window_size=WINDOW, strict_kex=True)
    restrict(transport, HOST_KEY_ALGORITHMS.get(pin.host_key.split()[0], ("ssh-ed25519",)))
    try:
        transport.start_client(timeout=TIMEOUT)
    except BaseException:
        transport.close()
        raise
    return transport


def _same_key(a: str, b: str) -> bool:
    return a.split()[:2] == b.split()[:2]


class _Mismatch(Exception):
    pass


class _Hashing:
    """A write-only file that hashes what passes through it on the way to the remote file."""

    def __init__(self, dst: BinaryIO) -> None:
        self.dst, self.sha, self.size = dst, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        self.dst.write(data)
        return len(data)


def _upload(transport: paramiko.Transport, pin: PinnedHost, transfer_id: str, blob_id: str, data_key: bytes,
            blobs: BlobStore, expected_sha256: str) -> tuple[int, str]:
    sftp = paramiko.SFTPClient.from_transport(transport)
    assert sftp is not None
    final = posixpath.join(pin.directory, f"{transfer_id}.age")
    temp = posixpath.join(pin.directory, f".{transfer_id}.{secrets.token_hex(6)}.part")
    try:
        with sftp.open(temp, "wb") as remote:
            remote.set_pipelined(True)  # do not wait for each write's status: one round trip in all
            sink = _Hashing(remote)
            blobs.copy_out(blob_id, data_key, sink)  # type: ignore[arg-type]
        sent = sink.sha.hexdigest()
        if sent != expected_sha256:
            raise _Mismatch("the package does not match its recorded SHA-256 before sending")
        if sftp.stat(temp).st_size != sink.size:
            raise _Mismatch(f"size at the destination differs from the {sink.size} bytes sent")
        if _read_back(sftp, temp, sink.size) != sent:
            raise _Mismatch("SHA-256 read back from the destination differs from what was sent")
        sftp.posix_rename(temp, final)
        temp = ""
        return sink.size, sent
    finally:
        if temp:
            with contextlib.suppress(OSError, paramiko.SSHException, EOFError):
                sftp.remove(temp)
        sftp.close()


def _read_back(sftp: paramiko.SFTPClient, path: str, size: int) -> str:
    sha = hashlib.sha256()
    with sftp.open(path, "rb") as f:
        f.prefetch(size)  # all read requests in flight at once, answered in order
        while chunk := f.read(1024 * 1024):
            sha.update(chunk)
    return sha.hexdigest()


def pin_host(gw: Gateway, org: str, *, host: str, port: int, host_key: str, username: str, directory: str,
             who: Actor) -> str:
    """Pin (or deliberately re-pin) the server a contractor receives pushes on; logged with both
    fingerprints when it replaces a pin."""
    with attempt(gw, who, "org.pin-host", channel="cli") as a:
        parts = host_key.strip().split()
        if len(parts) < 2 or parts[0] not in HOST_KEY_ALGORITHMS or len(host_key.strip().splitlines()) != 1:
            raise Invalid("ホスト鍵は OpenSSH 形式の公開鍵 1 行（ssh-ed25519 など）で指定してください。",
                               "give the host key as one OpenSSH public-key line (ssh-ed25519, ecdsa-sha2-*, ssh-rsa).")
        try:
            paramiko.PKey.from_type_string(parts[0], base64.b64decode(parts[1], validate=True))
        except (ValueError, paramiko.SSHException, TypeError):
            raise Invalid("ホスト鍵を読めません。", "cannot read the host key.") from None
        if not directory.startswith("/"):
            raise Invalid("送付先ディレクトリは / で始まる絶対パスで指定してください。",
                               "give the remote directory as an absolute path.")
        line = f"{parts[0]} {parts[1]}"
        fp = fingerprint_of(line)
        with gw.unit() as session:
            organisation = session.get(m.Organisation, org)
            if organisation is None or organisation.kind == "city":
                raise NotFound(f"受託者の組織「{org}」は登録されていません。", f"no contractor organisation '{org}'.")
            pin = session.get(PinnedHost, org)
            previous = None if pin is None else fingerprint_of(pin.host_key)
            if pin is None:
                pin = PinnedHost(organisation_id=org)
                session.add(pin)
            pin.host, pin.port, pin.username, pin.host_key, pin.directory = host, port, username, line, directory
            pin.pinned_at = gw.clock.now()
            gw.ledger.record(session, a.event(
                reason=f"{org}: {username}@{host}:{port}{directory} {fp}"
                       + (f" (replaces {previous})" if previous and previous != fp else ""),
            ))
    return fp
