"""The scenario's contractors, each at their own machine with `gateway-client` (in process).

A handler never touches the gateway's command line: they reach it over the channel of the hand-over,
the portal's API from their designated terminal (`lgwan-asp`) or SFTP with their SSH key (the VPN
line: `vpn-sftp`, and for courier hand-overs the attestations, since media carry no answer back),
and sign every receipt, deletion request and erasure certificate with their own SSH key, the key
the operator registered for them (`key-registration` evidence). The client signs with the
scenario's clock: the handler's machine keeps the same (rehearsal) time as the gateway.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from gateway.client import acts
from gateway.client.channel import Channel
from gateway.client.portal import PortalChannel, terminal_context
from gateway.client.sftp import SftpChannel
from gateway.client.signer import Signer, load, paramiko_key
from gateway.fsutil import write_secret
from gateway.ledger.log import Actor
from gateway.operations.sshkeys import add_key
from gateway.service import Gateway
from gateway.simulate.portal_client import PortalClient

OPERATOR = Actor(user="simulator", role="admin")  # who registers the handlers' keys, as the city does


class Contractors:
    def __init__(self, gw: Gateway, work: Path, portal: PortalClient, portal_url: str, sftp_port: int,
                 sftp_host_key: Any) -> None:
        self.gw, self.work, self.portal, self.portal_url = gw, work, portal, portal_url
        self.sftp_port, self.sftp_host_key = sftp_port, sftp_host_key
        self.signers: dict[str, Signer] = {}

    def key(self, login: str) -> Signer:
        """`login`'s SSH key on their own machine, registered at the gateway on first use (an
        account a fault adds gets one too: being able to log in does not make it a handler)."""
        if login not in self.signers:
            path = self.work / "keys" / login
            private = ed25519.Ed25519PrivateKey.generate()
            write_secret(path, private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                                     serialization.NoEncryption()))
            public = private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                                       serialization.PublicFormat.OpenSSH).decode()
            add_key(self.gw, login, public, OPERATOR)
            self.signers[login] = load(path)
        return self.signers[login]

    @contextlib.contextmanager
    def channel(self, login: str, kind: str) -> Iterator[Channel]:
        """`login` connected over the portal (`lgwan-asp`) or the VPN line (anything else)."""
        ch: Channel
        if kind == "lgwan-asp":
            p12, p12_password, password = self.portal.credentials(login)
            ctx, _, _ = terminal_context(p12.read_bytes(), p12_password.encode())
            ch = PortalChannel(self.portal_url, ctx, login, password.encode())
        else:
            ch = SftpChannel("127.0.0.1", self.sftp_port, login, paramiko_key(self.key(login)), self.sftp_host_key)
        try:
            yield ch
        finally:
            ch.close()

    def receive(self, login: str, t: dict[str, Any], package: Path | None = None) -> acts.Unpacked:
        """Download (or read the media's package), decrypt, count and hash in one pass."""
        out = self.work / f"{t['transfer']}.csv"
        # A send held for its second check has no passphrase yet: an attempt on it is refused first.
        secret = (t["passphrase"] or "").encode()
        if package is not None:
            return acts.unpack(package.open("rb"), out, secret)
        with self.channel(login, t["channel"]) as ch:
            return acts.unpack(ch.package(t["transfer"]), out, secret)

    def confirm(self, login: str, t: dict[str, Any], *, sha256: str, at: Any) -> dict[str, Any]:
        with self.channel(login, t["channel"]) as ch:
            return acts.confirm(ch, self.key(login), t["transfer"], records=t["records"], sha256=sha256,
                                package_sha256=t.get("package_sha256_seen"), at=at)

    def request_deletion(self, login: str, t: dict[str, Any], **fields: Any) -> str:
        with self.channel(login, t["channel"]) as ch:
            return str(acts.request_deletion(ch, self.key(login), t["transfer"], clock=self.gw.clock, **fields)
                       ["deletion"])

    def certify(self, login: str, t: dict[str, Any], deletion: str, certificate: acts.Certificate) -> str:
        with self.channel(login, t["channel"]) as ch:
            return str(acts.certify(ch, self.key(login), t["transfer"], deletion, certificate, clock=self.gw.clock)
                       ["evidence"])
