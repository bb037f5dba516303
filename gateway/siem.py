"""The access log for the officers' SIEM (統合ログ監視): RFC 5424 syslog messages, framed by
octet counting (RFC 6587 / RFC 5425), over TLS with the collector's certificate checked.

One entry, one message: facility 13 (log audit); severity info for `ok`, warning for `refused`,
error for `failed`; MSGID the action; structured data `[gateway@32473 ...]` with the entry's
sequence number, outcome, channel, user and finding kinds (32473 is the private enterprise
number RFC 5612 reserves for examples: a city registers its own if its SIEM keys on it); the
message the entry itself as JSON, as `gateway log --jsonl` prints it, after a UTF-8 BOM.

`Forwarder` keeps the last sequence number it handed to the connection in a state file, so a
restart resumes where it stopped (an entry may be sent twice after a cut connection; the
sequence number lets the SIEM drop the duplicate), and reconnects with a growing pause.
"""
from __future__ import annotations

import json
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

FACILITY = 13  # log audit
SEVERITY = {"ok": 6, "refused": 4, "failed": 3}
SD_ID = "gateway@32473"


def _sd_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _token(value: str, limit: int) -> str:
    """A header field: printable US-ASCII without spaces, or the nil value."""
    cleaned = "".join(c for c in value if 33 <= ord(c) <= 126)[:limit]
    return cleaned or "-"


def format_entry(entry: dict[str, Any], hostname: str, app: str = "gateway") -> bytes:
    pri = FACILITY * 8 + SEVERITY.get(entry.get("outcome", "ok"), 5)
    actor = entry.get("actor") or {}
    params = {"seq": str(entry.get("seq", "")), "outcome": entry.get("outcome") or "",
              "channel": entry.get("channel") or "", "user": actor.get("user") or actor.get("role") or "",
              "kinds": ",".join(entry.get("kinds") or [])}
    sd = "[" + SD_ID + "".join(f' {k}="{_sd_value(v)}"' for k, v in params.items() if v) + "]"
    header = f"<{pri}>1 {_token(entry.get('at', ''), 64)} {_token(hostname, 255)} {_token(app, 48)} - " \
             f"{_token(entry.get('action', ''), 32)} {sd} "
    return header.encode("ascii") + b"\xef\xbb\xbf" + json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode()


def frame(message: bytes) -> bytes:
    return str(len(message)).encode("ascii") + b" " + message


class Forwarder:
    """A TLS connection to the collector that is made again when it breaks."""

    def __init__(self, host: str, port: int, cafile: str | None, state: Path | None, hostname: str | None = None) -> None:
        self.host, self.port, self.state = host, port, state
        self.hostname = hostname or socket.gethostname()
        self.context = ssl.create_default_context(cafile=cafile)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._sock: ssl.SSLSocket | None = None

    def resume_after(self) -> int | None:
        if self.state is None or not self.state.exists():
            return None
        text = self.state.read_text().strip()
        return int(text) if text.isdigit() else None

    def _connect(self) -> ssl.SSLSocket:
        raw = socket.create_connection((self.host, self.port), timeout=30)
        return self.context.wrap_socket(raw, server_hostname=self.host)

    def send(self, entry: dict[str, Any], stop: threading.Event) -> bool:
        """Send one entry, reconnecting (1, 2, 4 ... 60 s apart) until it went or `stop` is set."""
        pause = 1.0
        data = frame(format_entry(entry, self.hostname))
        while not stop.is_set():
            try:
                if self._sock is None:
                    self._sock = self._connect()
                self._sock.sendall(data)
                if self.state is not None:
                    self.state.write_text(f"{entry['seq']}\n")
                return True
            except OSError:
                self.close()
                stop.wait(pause)
                pause = min(pause * 2, 60.0)
        return False

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None
