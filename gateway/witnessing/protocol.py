"""C2SP tlog-witness from the log's side: one `POST <url>/add-checkpoint` and what its answer means.

Request body: `old <size>`, the consistency proof lines (base64), an empty line, the signed note.
Answers (c2sp.org/tlog-witness): 200 with cosignature lines; 409 `text/x.tlog.size` with the size
the witness last cosigned (our idea of it was stale: resend from there), or 409 otherwise (the same
size with another root: a fork); 422 the proof did not verify; 403 no signature by a key the
witness trusts for this origin; 404 an origin it does not follow; 400 malformed.
"""
from __future__ import annotations

import http.client
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.ledger.note import b64

SIZE_TYPE = "text/x.tlog.size"
MAX_ANSWER = 64 << 10


class WitnessUnreachable(Exception):
    """No HTTP answer at all: refused, reset, timed out, or not HTTP."""


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes

    @property
    def size(self) -> int | None:
        """The witness's size in a 409 that carries one; None otherwise."""
        if self.status != 409 or self.content_type.split(";")[0].strip() != SIZE_TYPE:
            return None
        text = self.body.decode("ascii", "replace").strip()
        return int(text) if text.isdigit() and (text == "0" or not text.startswith("0")) else None

    def reason(self) -> str:
        """What the witness said, for the operator (first two lines: its Japanese and English)."""
        text = self.body[:400].decode("utf-8", "replace").strip().replace("\r", " ")
        return f"HTTP {self.status}: " + " / ".join(line for line in text.split("\n")[:2] if line)


def request_body(old: int, proof: list[bytes], note: str) -> bytes:
    lines = [f"old {old}"] + [b64(node) for node in proof]
    return ("\n".join(lines) + "\n\n" + note).encode("utf-8")


class Connection:
    """One keep-alive HTTP(S) connection to one witness, reopened after any failure."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("a witness URL is http(s)://HOST[:PORT][/PREFIX]")
        self.https = parts.scheme == "https"
        self.host, self.port = parts.hostname, parts.port
        self.path = parts.path.rstrip("/") + "/add-checkpoint"
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _open(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self.https:
                self._conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                                         context=ssl.create_default_context())
            else:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._conn

    def add_checkpoint(self, body: bytes, timeout: float | None = None) -> Answer:
        conn = self._open()
        conn.timeout = timeout if timeout is not None else self.timeout
        if conn.sock is not None:
            conn.sock.settimeout(conn.timeout)
        try:
            conn.request("POST", self.path, body=body, headers={"Content-Type": "text/plain; charset=utf-8"})
            resp = conn.getresponse()
            data = resp.read(MAX_ANSWER + 1)
            answer = Answer(resp.status, resp.getheader("Content-Type", ""), data[:MAX_ANSWER])
            if len(data) > MAX_ANSWER or resp.will_close:
                self.close()
            return answer
        except (OSError, http.client.HTTPException) as err:
            self.close()
            raise WitnessUnreachable(f"{type(err).__name__}: {err}"[:300]) from None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
