"""The handler's SSH key: what signs their attestations (and, over SFTP, logs them in).

The key stays on the handler's machine; the gateway has only its public half, registered by the
city (`gateway user add-key`), and checks each signature against it. A key with a passphrase asks
for it without echo, or reads it from `--key-passphrase-file`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.attestations import document, sshsig
from gateway.crypto.secret_input import secret
from gateway.errors import Invalid


@dataclass(frozen=True)
class Signer:
    path: Path
    key: sshsig.PrivateKey
    passphrase: bytes | None  # kept only to open the same file for an SFTP login

    def sign(self, kind: str, *, transfer: str, login: str, at: datetime, **fields: Any) -> document.Envelope:
        return document.sign(document.new(kind, transfer=transfer, signer=login, at=at, **fields), self.key)

    @property
    def fingerprint(self) -> str:
        return sshsig.fingerprint(sshsig.public_blob(self.key))


def load(path: Path, passphrase_file: str | None = None) -> Signer:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise Invalid(f"署名に使う SSH 秘密鍵を読めません: {path} ({err.strerror})。--key で指定してください。",
                      f"cannot read the SSH private key {path} ({err.strerror}); give it with --key.") from None
    passphrase = None
    try:
        return Signer(path, sshsig.load_private_key(data), None)
    except TypeError:  # encrypted: it needs its passphrase
        passphrase = secret(passphrase_file, f"{path} のパスフレーズ / passphrase for {path}: ",
                            "鍵のパスフレーズ", "key passphrase")
    except (ValueError, sshsig.SshsigError):
        raise Invalid(f"{path} は使える SSH 秘密鍵ではありません（ed25519 を推奨）。",
                      f"{path} is not a usable SSH private key (ed25519 recommended).") from None
    try:
        return Signer(path, sshsig.load_private_key(data, passphrase), passphrase)
    except (ValueError, TypeError, sshsig.SshsigError):
        raise Invalid("鍵のパスフレーズが違います。", "wrong passphrase for the key.") from None


def paramiko_key(signer: Signer) -> Any:
    """The same key for paramiko's login (paramiko is loaded only for SFTP)."""
    import paramiko

    try:
        return paramiko.PKey.from_path(signer.path, signer.passphrase)
    except (paramiko.SSHException, ValueError) as err:
        raise Invalid(f"{signer.path} を SSH のログインに使えません。", f"cannot log in with {signer.path}: {err}") from None
