"""The VPN line: the gateway's SFTP server, logged in with the handler's own SSH key.

The server's host key is pinned (`--host-key`, the line the city gives out, or the client's
`known_hosts`): an unknown or changed host key ends the connection before anything is sent.
`/outbox/<transfer>.age` is read with paramiko's prefetch (many reads in flight), straight into
the decryption; an attestation is written to `/attestations/<name>.json`, and the gateway's
answer to it (or its refusal, with category and kinds) read back from the same path; a
deliverable goes to `/inbox/<transfer>.<name>`; `/transfers.json` lists the handler's transfers.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import paramiko

from gateway.attestations.document import Envelope
from gateway.errors import Forbidden, GatewayError, Invalid, NotFound, Unauthenticated, Unavailable, error_from_json

CHUNK = 1024 * 1024


def host_key_check(host: str, port: int, pinned: str | None, known_hosts: Path | None) -> paramiko.PKey:
    """The key the server must present: the pinned line, else the known_hosts entry for host:port."""
    if pinned is not None:
        parts = pinned.split()
        try:
            return paramiko.PKey.from_type_string(parts[0], base64.b64decode(parts[1]))
        except (IndexError, ValueError, binascii.Error, paramiko.SSHException):
            raise Invalid("ゲートウェイのホスト鍵を読めません（OpenSSH 形式 1 行）。",
                          "cannot read the gateway's host key (one OpenSSH line).") from None
    hosts = paramiko.HostKeys()
    if known_hosts is not None and known_hosts.is_file():
        hosts.load(str(known_hosts))
    name = host if port == 22 else f"[{host}]:{port}"
    entry = hosts.lookup(name)
    if not entry:
        raise Invalid(f"{name} のホスト鍵が known_hosts にありません。市から受け取ったホスト鍵を --host-key で指定してください。",
                      f"no host key for {name} in known_hosts; give the host key the city sent with --host-key.")
    return next(iter(entry.values()))


class SftpChannel:
    def __init__(self, host: str, port: int, login: str, key: paramiko.PKey, host_key: paramiko.PKey) -> None:
        self.login = login
        try:
            sock = socket.create_connection((host, port), timeout=30)
        except OSError as err:
            raise Unavailable("ゲートウェイの SFTP サーバーに接続できません。", f"cannot connect to {host}:{port}: {err}") \
                from None
        # Without TCP_NODELAY each SFTP request waits for Nagle and delayed ACK (DESIGN.md).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.transport = paramiko.Transport(sock)
        try:
            self.transport.connect(hostkey=host_key, username=login, pkey=key)
            client = paramiko.SFTPClient.from_transport(self.transport)
        except paramiko.BadHostKeyException:
            self.transport.close()
            raise Forbidden("ゲートウェイのホスト鍵が、指定されたものと違います。接続を中止しました。市に確認してください。",
                            "the gateway's host key is not the one pinned; the connection was stopped. Ask the city.") \
                from None
        except paramiko.AuthenticationException:
            self.transport.close()
            raise Unauthenticated("SFTP にログインできません。鍵が登録されていないか、取り消されています。",
                                  "the SFTP login failed: the key is not registered to you, or was revoked.") from None
        except (paramiko.SSHException, OSError) as err:
            self.transport.close()
            raise Unavailable("SFTP の接続に失敗しました。", f"the SFTP connection failed: {err}") from None
        assert client is not None
        self.sftp = client

    def close(self) -> None:
        # The transport closes its channels with it. Closing the SFTP channel first would leave the
        # server's answer to that close unread when the socket goes, and the server sees a reset.
        self.transport.close()

    def transfers(self) -> list[dict[str, Any]]:
        with self._refused("/transfers.json"):
            with self.sftp.open("/transfers.json", "rb") as f:
                rows = json.loads(f.read())
        return rows if isinstance(rows, list) else []

    @contextlib.contextmanager
    def package(self, transfer: str) -> Iterator[BinaryIO]:
        path = f"/outbox/{transfer}.age"
        with self._refused(path):
            f = self.sftp.open(path, "rb", bufsize=CHUNK)
        try:
            f.prefetch()  # reads in flight ahead of the decryption
            with self._refused(path):
                yield f
        finally:
            f.close()

    def file(self, envelope: Envelope) -> dict[str, Any]:
        return self._exchange(f"/attestations/{envelope.id}.{secrets.token_hex(4)}.json", envelope.to_json())

    def report_incident(self, report: dict[str, Any]) -> dict[str, Any]:
        return self._exchange(f"/attestations/incident.{secrets.token_hex(6)}.json", {"incident_report": report})

    def _exchange(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Write `payload` to `name` and read the gateway's answer back from the same path."""
        refused = None
        try:
            with self.sftp.open(name, "wb") as f:
                f.write(json.dumps(payload, ensure_ascii=False).encode("utf-8"))
        except OSError as err:
            refused = err  # the answer says why
        try:
            with self.sftp.open(name, "rb") as f:
                body = json.loads(f.read())
        except (OSError, ValueError):
            raise _status(refused or OSError("no answer"), name) from None
        if refused is not None or "category" in body:
            raise error_from_json(body, fallback_ja="SFTP サーバーが拒否しました。", fallback_en="the SFTP server refused it.")
        return body if isinstance(body, dict) else {}

    def deliver(self, transfer: str, path: Path, name: str) -> dict[str, Any]:
        digest, size = hashlib.sha256(), 0
        remote = f"/inbox/{transfer}.{name}"
        with self._refused(remote):
            with path.open("rb") as src, self.sftp.open(remote, "wb") as dst:
                dst.set_pipelined(True)
                while block := src.read(CHUNK):
                    digest.update(block)
                    size += len(block)
                    dst.write(block)
        return {"transfer": transfer, "name": name, "sha256": digest.hexdigest(), "size": size, "deliverable": None}

    @contextlib.contextmanager
    def _refused(self, path: str) -> Iterator[None]:
        try:
            yield
        except OSError as err:
            raise _status(err, path) from None


def _status(err: OSError, path: str) -> GatewayError:
    """SFTP says only a status: no such file (not yours, or not there), or permission denied (the
    gateway refused and logged why: its log and your handler list tell)."""
    if isinstance(err, FileNotFoundError):
        return NotFound(f"{path} はありません（受け渡しが違うか、あなた宛てではありません）。",
                        f"{path} does not exist (another transfer, or not one for you).")
    if isinstance(err, PermissionError):
        return Forbidden(f"{path} へのアクセスは拒否されました（取扱者名簿にないか、既に消去されています）。",
                         f"access to {path} was refused (not on the handler list, or already erased).")
    return Unavailable(f"SFTP の操作に失敗しました（{path}）。", f"the SFTP operation on {path} failed: {err}")
