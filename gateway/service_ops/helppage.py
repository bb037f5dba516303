"""The page a browser without a terminal certificate can reach (issue 22).

The portal requires a terminal certificate in the TLS handshake, so a browser without one sees
only its own connection error and its user calls whoever they know. This listener, on a port of
its own, serves the same server certificate without asking for a client certificate, and answers
every path with one static page: in Japanese first, what is missing (the terminal certificate),
whom to ask (`[portal] help_contact`), and the fingerprint of the CA to check. Nothing here
reads the database or accepts input: the portal's own certificate requirement is untouched, and
this port can tell a stranger nothing but how to ask for access.
"""
from __future__ import annotations

import hashlib
import html
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gateway.service_ops import oplog

TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
DEFAULT_CONTACT = "市の情報システム担当（このゲートウェイの管理者） / the city's information systems section (this gateway's administrator)"

_log = oplog.get("help")

PAGE = """<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>端末証明書がありません / No terminal certificate</title>
<style>body{{font-family:sans-serif;max-width:46em;margin:2em auto;padding:0 1em;line-height:1.7}}
code{{background:#f2f2f2;padding:0 .3em;word-break:break-all}} .en{{color:#444;border-top:1px solid #ccc;margin-top:2em}}</style>
</head><body>
<h1>この端末からはポータルを利用できません</h1>
<p>ポータル（<code>{portal}</code>）は、あらかじめ登録された端末からだけ利用できます。
この端末のブラウザーには、ゲートウェイが発行した<strong>端末証明書</strong>（<code>.p12</code> ファイル）が取り込まれていないため、
接続がポータルに拒否されました。パスワードを入力する前の段階で拒否されています。</p>
<h2>必要なこと</h2>
<ol>
<li>次の担当に、利用者 ID とこの端末の名前を伝え、端末証明書の発行を依頼してください：<br><strong>{contact}</strong></li>
<li>受け取った <code>.p12</code> ファイルを、案内されたパスフレーズで
この端末のブラウザー（または OS の証明書ストア）に取り込んでください。</li>
<li>ブラウザーが「安全でない接続」と表示する場合は、<a href="/ca.crt">ゲートウェイの認証局の証明書</a>を信頼してください。
その前に、指紋が次の値と一致することを担当に確認してください：<br><code>SHA-256 {fingerprint}</code></li>
<li>ブラウザーを再起動し、<code>{portal}</code> を開いてください。</li>
</ol>
<p>証明書を他人に渡したり、別の端末に取り込んだりしないでください。</p>
<div class="en" lang="en">
<h1>This device cannot use the portal</h1>
<p>The portal (<code>{portal}</code>) accepts registered devices only. This browser holds no <strong>terminal
certificate</strong> (a <code>.p12</code> file issued by the gateway), so the connection was refused before any password.</p>
<ol>
<li>Ask <strong>{contact}</strong> for a terminal certificate, giving your user ID and this device's name.</li>
<li>Import the <code>.p12</code> into this browser (or the operating system's certificate store) with the passphrase you are given.</li>
<li>If the browser calls the connection unsafe, trust <a href="/ca.crt">the gateway's CA certificate</a> after
checking with them that its fingerprint is <code>SHA-256 {fingerprint}</code>.</li>
<li>Restart the browser and open <code>{portal}</code>.</li>
</ol>
</div>
</body></html>
"""


def fingerprint(ca_pem: bytes) -> str:
    der = x509.load_pem_x509_certificate(ca_pem).public_bytes(serialization.Encoding.DER)
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


class HelpPage:
    """HTTPS on (bind, port) with the portal's server certificate and no client certificate asked."""

    def __init__(self, keys: Path, bind: str, port: int, portal_port: int | None, contact: str = "") -> None:
        ca_pem = (keys / "ca.crt").read_bytes()
        self.ca_pem = ca_pem
        self.contact = contact or DEFAULT_CONTACT
        self.portal_port = portal_port
        self.fingerprint = fingerprint(ca_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(TLS12_CIPHERS)
        context.options |= ssl.OP_NO_RENEGOTIATION | ssl.OP_NO_COMPRESSION
        context.load_cert_chain(keys / "server.crt", keys / "server.key")
        context.verify_mode = ssl.CERT_NONE  # the point of this port: no terminal certificate needed
        page = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "gateway-help"
            sys_version = ""
            timeout = 10  # a handshake or request that stalls holds a thread this long at most

            def do_GET(self) -> None:  # noqa: N802  (http.server's name)
                if self.path.split("?")[0] == "/ca.crt":
                    body, kind = page.ca_pem, "application/x-x509-ca-cert"
                else:
                    body, kind = page.render(self.headers.get("Host", "")).encode("utf-8"), "text/html; charset=utf-8"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
                self.send_header("X-Content-Type-Options", "nosniff")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                _log.debug("help page request", extra={"request": format % args})

        family_server = ThreadingHTTPServer
        self.server = family_server((bind, port), Handler, bind_and_activate=True)
        self.server.daemon_threads = True
        # The handshake happens in the request's thread (on its first read), not in accept().
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True, do_handshake_on_connect=False)
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="help-page", daemon=True)

    def render(self, host_header: str) -> str:
        host = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
        host = host or "localhost"
        portal = f"https://{host}:{self.portal_port}/" if self.portal_port else f"https://{host}/"
        return PAGE.format(portal=html.escape(portal), contact=html.escape(self.contact), fingerprint=self.fingerprint)

    def start(self) -> HelpPage:
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
