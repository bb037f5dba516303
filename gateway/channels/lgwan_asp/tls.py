"""The portal's TLS: 1.2 or newer, the key store's server certificate, and mutual TLS against the
gateway's own CA with the terminal CRL checked, so an unknown, foreign, expired or revoked
terminal fails in the handshake, before any HTTP is spoken.

Revocation takes effect on the next handshake without a restart: every handshake's SNI callback
(OpenSSL calls it whether or not the client sends a name) compares the CRL file with the one the
current context loaded and, if it changed, moves the connection to a freshly built context.
"""
from __future__ import annotations

import ssl
import threading
from pathlib import Path

from gateway.crypto.keystore import KeyStore

# Forward-secret AEAD suites only for TLS 1.2; TLS 1.3 suites are all acceptable.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


class TerminalTLS:
    def __init__(self, keys: KeyStore, crl: Path) -> None:
        self.keys = keys
        self.crl = crl
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._current = self._build()

    def context(self) -> ssl.SSLContext:
        return self._current

    def _crl_stamp(self) -> tuple[int, int]:
        st = self.crl.stat()
        return (st.st_mtime_ns, st.st_size)

    def _build(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(TLS12_CIPHERS)
        ctx.options |= ssl.OP_NO_RENEGOTIATION | ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
        ctx.load_cert_chain(self.keys.root / "server.crt", self.keys.root / "server.key")
        ctx.verify_mode = ssl.CERT_REQUIRED
        # Only the gateway CA: the system trust store would let any public CA's client in.
        ctx.load_verify_locations(cafile=str(self.keys.root / "ca.crt"))
        stamp = self._crl_stamp()
        ctx.load_verify_locations(cafile=str(self.crl))
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF | ssl.VERIFY_X509_STRICT
        ctx.sni_callback = self._on_hello
        self._stamp = stamp
        return ctx

    def _on_hello(self, conn: ssl.SSLObject | ssl.SSLSocket, _name: str | None, _ctx: ssl.SSLContext) -> None:
        try:
            stamp = self._crl_stamp()
        except FileNotFoundError:
            return None  # keep the last list loaded rather than accept everyone
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._current = self._build()
        if conn.context is not self._current:
            conn.context = self._current
        return None
