"""The key store under `<home>/keys`, written by `gateway init`.

| file | what |
|---|---|
| `kek/<generation>.key` | the key-encryption key generations that wrap each blob's data key |
|  | (unless `[kek]` in `<home>/gateway.toml` puts them in a PKCS#11 token: gateway.crypto.kek) |
| `signing/<key id>.key`, `.pub` | Ed25519 evidence-signing keys; `signing/current` names the active one, `signing/genesis` the first |
| `signing/rotations/<n>.json` | statements in which the old key introduces the new one |
| `ca.key`, `ca.crt` | the portal's CA: it issues the server certificate and terminal certificates |
| `server.key`, `server.crt` | the portal's TLS certificate (localhost, 127.0.0.1, `init --hostname`), or the city's (`tls import`) |
| `ssh_host_ed25519_key`, `.pub` | the SFTP server's host key |

Private files are created with O_EXCL and mode 0600 (an existing file is never overwritten:
re-running init keeps the keys). Private keys never enter the database, a log or a message.
KEK generations are made and destroyed with the database that names them (gateway.kek_rotation),
not here; this store says where they live. The key store sits in the home (`<home>/keys`), whose
gateway.toml says which backend holds them.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from gateway.clock import timestamp
from gateway.crypto import servercert
from gateway.crypto.canonical_json import canonical
from gateway.crypto.kek import Keyring
from gateway.crypto.kek import config as kek_config
from gateway.crypto.kek.files import FileKeks
from gateway.errors import Conflict, Unavailable
from gateway.fsutil import atomic_output, fsync_dir, write_secret

CA_YEARS = 10
# The HMAC key of the city's exclusion lists (core/records/keyed_lists.py), 32 random bytes.
EXCLUSION_LIST_KEY = "exclusion-list.key"


def write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with atomic_output(path) as out:
        out.write(data)
    os.chmod(path, 0o644)


def key_id(public: ed25519.Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_b64(public: ed25519.Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class SigningKey:
    id: str
    private: ed25519.Ed25519PrivateKey

    @property
    def public(self) -> ed25519.Ed25519PublicKey:
        return self.private.public_key()

    def sign(self, document: dict) -> dict:
        """The document with a detached Ed25519 signature over its RFC 8785 canonical form."""
        body = {k: v for k, v in document.items() if k != "signature"}
        sig = self.private.sign(canonical(body))
        return {**body, "signature": {"alg": "Ed25519", "key_id": self.id,
                                      "value": base64.b64encode(sig).decode("ascii")}}


class KeyStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    # -- creation ---------------------------------------------------------------------------

    def ensure(self, *, now: datetime, hostnames: tuple[str, ...] = ()) -> list[str]:
        """Create every missing key; returns what was created. Existing keys are kept as they are,
        except a server certificate of our own CA that does not name every one of `hostnames`:
        it is issued again with them (the one replaced is kept as `.previous`)."""
        created = []
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._adopt_single_kek()
        if not (self.root / "signing" / "current").exists():
            self._new_signing_key(now=now, previous=None)
            created.append("signing")
        if not (self.root / "ca.crt").exists():
            self._new_ca(now)
            created.append("ca")
        if not (self.root / "server.crt").exists():
            self._new_server_cert(now, hostnames)
            created.append("server-certificate")
        elif hostnames and self._reissue_for(hostnames, now):
            created.append("server-certificate")
        if not (self.root / "ssh_host_ed25519_key").exists():
            self._new_ssh_host_key()
            created.append("ssh-host-key")
        if self.exclusion_list_key() is None:
            # Made here, not at the first list's import, so that the homes of a gateway's other
            # nodes, copied from the first one's, match the same numbers (models_exclusion.py).
            self.exclusion_list_key(create=True)
            created.append("exclusion-list-key")
        return created

    def _adopt_single_kek(self) -> None:
        # Before KEK generations, one `kek.key` wrapped every data key: it becomes generation 1
        # (the migration that adds generations numbers existing blobs 1). A rename within one
        # directory tree is atomic: the key is under one name or the other, never neither.
        legacy = self.root / "kek.key"
        if legacy.exists():
            files = FileKeks(self.root / "kek")
            target = files.path(1)
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if target.exists():
                raise Conflict(
                    f"{legacy} と {target} の両方があります。どちらが使われていたか確認し、片方を退避してください。",
                    f"both {legacy} and {target} exist; find out which one is in use and move the other away.",
                )
            os.rename(legacy, target)
            fsync_dir(target.parent)
            fsync_dir(self.root)

    def rotate_signing_key(self, *, now: datetime) -> dict:
        """A new evidence key, introduced by a statement the old key signs (and the new one
        countersigns), so evidence signed before the rotation keeps verifying."""
        old = self.signing_key()
        return self._new_signing_key(now=now, previous=old)

    def _new_signing_key(self, *, now: datetime, previous: SigningKey | None) -> dict:
        private = ed25519.Ed25519PrivateKey.generate()
        kid = key_id(private.public_key())
        signing = self.root / "signing"
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        write_secret(signing / f"{kid}.key", pem)
        write_public(signing / f"{kid}.pub", public_b64(private.public_key()).encode() + b"\n")
        statement: dict = {}
        if previous is not None:
            statement = {
                "type": "key-rotation",
                "old_key_id": previous.id,
                "old_public_key": public_b64(previous.public),
                "new_key_id": kid,
                "new_public_key": public_b64(private.public_key()),
                "at": timestamp(now),
            }
            signed = previous.sign(statement)
            countersigned = {
                **signed,
                "countersignature": {
                    "alg": "Ed25519", "key_id": kid,
                    "value": base64.b64encode(private.sign(canonical(statement))).decode("ascii"),
                },
            }
            rotations = signing / "rotations"
            n = len(list(rotations.glob("*.json"))) + 1 if rotations.exists() else 1
            write_public(rotations / f"{n:04d}.json", json.dumps(countersigned, ensure_ascii=False, indent=2).encode())
            statement = countersigned
        if previous is None:
            write_public(signing / "genesis", kid.encode() + b"\n")
        write_public(signing / "current", kid.encode() + b"\n")
        return statement

    def _new_ca(self, now: datetime) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "LGWAN gateway"),
            x509.NameAttribute(NameOID.COMMON_NAME, "gateway terminal CA"),
        ])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        write_secret(self.root / "ca.key", _pem_private(key))
        write_public(self.root / "ca.crt", cert.public_bytes(serialization.Encoding.PEM))

    def _new_server_cert(self, now: datetime, hostnames: tuple[str, ...] = ()) -> None:
        ca_key, ca_cert = self.ca()
        key_pem, cert_pem = servercert.issue(ca_key, ca_cert, hostnames, now)
        write_secret(self.root / "server.key", key_pem)
        write_public(self.root / "server.crt", cert_pem)

    def _reissue_for(self, hostnames: tuple[str, ...], now: datetime) -> bool:
        current = x509.load_pem_x509_certificate(self._read(self.root / "server.crt"))
        if servercert.covers(current, hostnames):
            return False
        ca_key, ca_cert = self.ca()
        if not servercert.issued_by(current, ca_cert):
            raise Conflict(
                f"サーバー証明書は取り込んだもの（発行者: {current.issuer.rfc4514_string()}）で、"
                f"{', '.join(hostnames)} を含みません。その名前を含む証明書を `gateway tls import` で取り込んでください。",
                f"the server certificate was imported (issuer: {current.issuer.rfc4514_string()}) and does not name "
                f"{', '.join(hostnames)}; import one that does with `gateway tls import`.")
        names = tuple(dict.fromkeys([*servercert.names_of(current), *hostnames]))
        servercert.install(self.root, *servercert.issue(ca_key, ca_cert, names, now))
        return True

    def _new_ssh_host_key(self) -> None:
        key = ed25519.Ed25519PrivateKey.generate()
        write_secret(self.root / "ssh_host_ed25519_key", key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()))
        write_public(self.root / "ssh_host_ed25519_key.pub", key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH) + b" gateway-host\n")

    # -- reading ----------------------------------------------------------------------------

    def kek(self) -> Keyring:
        """The key-encryption keys, in the backend `[kek]` of the home's gateway.toml names."""
        return Keyring(self.root, kek_config.load(self.root.parent))

    def signing_key(self) -> SigningKey:
        kid = self._read(self.root / "signing" / "current").decode().strip()
        private = serialization.load_pem_private_key(self._read(self.root / "signing" / f"{kid}.key"), None)
        assert isinstance(private, ed25519.Ed25519PrivateKey)
        return SigningKey(kid, private)

    def genesis_key_id(self) -> str:
        """The installation's first evidence key: the one a city publishes for auditors to pin."""
        return self._read(self.root / "signing" / "genesis").decode().strip()

    def public_signing_keys(self) -> dict[str, str]:
        """Every evidence key ever used (id -> base64 raw public key): exported with evidence."""
        return {p.stem: p.read_text().strip() for p in sorted((self.root / "signing").glob("*.pub"))}

    def rotation_statements(self) -> list[dict]:
        return [json.loads(p.read_text()) for p in sorted((self.root / "signing" / "rotations").glob("*.json"))]

    def exclusion_list_key(self, *, create: bool = False) -> bytes | None:
        """The exclusion lists' HMAC key; None in a home made before `ensure` made one, unless
        `create` (a list's first import there)."""
        path = self.root / EXCLUSION_LIST_KEY
        if create and not path.exists():
            write_secret(path, secrets.token_bytes(32))
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def ca(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = serialization.load_pem_private_key(self._read(self.root / "ca.key"), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key, x509.load_pem_x509_certificate(self._read(self.root / "ca.crt"))

    def _read(self, path: Path) -> bytes:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise Unavailable(
                f"鍵ファイル {path.name} がありません。`gateway init` を実行してください。",
                f"key file {path.name} is missing; run `gateway init`.",
            ) from None


def _pem_private(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
