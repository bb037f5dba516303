"""The SSH algorithms both ends of our SFTP (server and push client) accept: modern ones only.

What paramiko 5.1 offers, checked against `Transport._preferred_*`:
- cipher: aes256-gcm@openssh.com only. paramiko has no chacha20-poly1305@openssh.com. Offering
  aes256-ctr as well would be chosen by the stock OpenSSH client first (its list puts the CTR modes
  before GCM) and costs an HMAC per packet: offering GCM alone is both stricter and faster.
- key exchange: mlkem768x25519-sha256 (the post-quantum hybrid OpenSSH 10 defaults to) and
  curve25519-sha256@libssh.org (the same exchange as RFC 8731's curve25519-sha256; paramiko knows
  it only under the libssh.org name, which every OpenSSH client also offers).
- MACs: only the encrypt-then-MAC SHA-2 ones; with GCM none is used, but the lists must match.
- host key: ssh-ed25519.
Strict key exchange (kex-strict-*-v00@openssh.com, the Terrapin fix, CVE-2023-48795) is on by
default in paramiko >= 3.4 (`Transport(strict_kex=True)`); we pass it explicitly.
"""
from __future__ import annotations

import paramiko

CIPHERS = ("aes256-gcm@openssh.com",)
KEX = ("mlkem768x25519-sha256", "curve25519-sha256@libssh.org")
MACS = ("hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com")
HOST_KEY_TYPES = ("ssh-ed25519",)


def restrict(transport: paramiko.Transport, host_key_types: tuple[str, ...] = HOST_KEY_TYPES) -> None:
    """Offer only our algorithms (before start_server / start_client)."""
    options = transport.get_security_options()
    options.ciphers = CIPHERS
    # Only what this paramiko knows: an older one without ML-KEM still gets curve25519.
    options.kex = tuple(k for k in KEX if k in paramiko.Transport._kex_info)  # noqa: SLF001
    options.digests = MACS
    options.key_types = host_key_types
