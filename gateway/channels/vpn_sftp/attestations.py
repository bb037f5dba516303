"""Signed attestations over the VPN line, and the handler's list of transfers.

An incident report travels the same way, as `{"incident_report": {...}}` (gateway-client's).
SFTP carries files, not requests, so an attestation is a file: gateway-client writes the envelope
(`{"document", "signature"}`, gateway.attestations.document) to `/attestations/<name>.json`. When
the client closes it, the whole file goes to the same operation the portal's
`POST /api/v1/attestations` calls (gateway.filing), which checks the signature against
the caller's registered key before recording anything. The close answers with the status of the
outcome; SFTP cannot say more, so the answer itself (the evidence id and, for a receipt, whether
it matched; or the refusal's JSON, with its category, kinds and bilingual message) is kept for the
rest of the session and read back from the same path. Nothing of it is written to disk.

`/transfers.json` (read-only) lists the transfers the handler may download, with their deadlines:
what `gateway-client list` shows.
"""
from __future__ import annotations

import json
import logging
import os
import re
from typing import Any, Protocol

import paramiko
from paramiko.sftp import SFTP_FAILURE, SFTP_OK

from gateway import filing
from gateway.attestations.document import MAX_DOCUMENT
from gateway.channels.vpn_sftp.common import Gate, attrs, status_of
from gateway.clock import timestamp
from gateway.errors import GatewayError, Invalid, TooLarge
from gateway.operations.attempt import refuse
from gateway.operations.listing import transfers_for
from gateway.service import Gateway


class Jail(Protocol):
    """The SFTP session these files belong to (jail.py's Jail; named here, not imported, since the
    jail imports this module)."""

    gw: Gateway
    gate: Gate
    answers: dict[str, bytes]


_log = logging.getLogger("gateway.sftp")
ATTESTATIONS = "/attestations"
TRANSFERS = "/transfers.json"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.json\Z")
MAX_UPLOAD = 2 * MAX_DOCUMENT
MAX_ANSWERS = 256  # per session: a client files a handful; the oldest answers go first


class Readable(paramiko.SFTPHandle):
    """Bytes made for this session (an answer, the list of transfers), read at any offset."""

    def __init__(self, name: str, data: bytes) -> None:
        super().__init__(os.O_RDONLY)
        self.name, self.data = name, data

    def read(self, offset: int, length: int) -> bytes:
        return self.data[offset:offset + length]

    def stat(self) -> paramiko.SFTPAttributes:
        return attrs(self.name, directory=False, size=len(self.data))


class Filing(paramiko.SFTPHandle):
    """An attestation being written; filed when the client closes it."""

    def __init__(self, jail: Jail, name: str) -> None:
        super().__init__(os.O_WRONLY)
        self.jail, self.name = jail, name
        self.buffer = bytearray()
        self.too_large = False

    def write(self, offset: int, data: bytes) -> int:
        end = offset + len(data)
        if end > MAX_UPLOAD:
            self.too_large = True
            return SFTP_OK  # refused, once, when the client closes it
        if end > len(self.buffer):
            self.buffer.extend(b"\0" * (end - len(self.buffer)))
        self.buffer[offset:end] = data
        return SFTP_OK

    def stat(self) -> paramiko.SFTPAttributes:
        return attrs(self.name, directory=False, size=len(self.buffer))

    def close(self) -> int:
        jail = self.jail
        try:
            if self.too_large:
                raise refuse(jail.gw, jail.gate.caller_actor(), filing.ACTION, TooLarge(
                    "署名付き文書が大きすぎます。", f"the signed attestation is larger than {MAX_UPLOAD} bytes."),
                    channel="vpn-sftp", source=jail.gate.source)
            try:
                payload = json.loads(bytes(self.buffer))
            except ValueError:
                raise refuse(jail.gw, jail.gate.caller_actor(), filing.ACTION, Invalid(
                    "JSON として読めません。gateway-client で作成してください。",
                    "the file is not JSON; make the attestation with gateway-client."),
                    channel="vpn-sftp", source=jail.gate.source) from None
            answer: dict[str, Any]
            if isinstance(payload, dict) and set(payload) == {"incident_report"}:
                answer = incident_report(jail, payload["incident_report"])
            else:
                answer = filing.file(jail.gw, jail.gate.caller(), payload)
            status = SFTP_OK
        except GatewayError as err:
            answer, status = err.to_json(), status_of(err)
        except Exception:  # a fault of ours: the client learns only that it failed; the server logs it
            _log.exception("filing %s over SFTP failed", self.name)
            answer, status = {"error": "internal", "category": "unavailable", "kinds": [],
                              "ja": "ゲートウェイで予期しないエラーが起きました。", "en": "the gateway failed unexpectedly."}, \
                SFTP_FAILURE
        jail.answers[self.name] = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        while len(jail.answers) > MAX_ANSWERS:
            jail.answers.pop(next(iter(jail.answers)))
        return status


def incident_report(jail: Jail, report: Any) -> dict[str, Any]:
    """An incident report (`{"incident_report": {...}}`, gateway-client's): what the portal's
    `POST /api/v1/incidents` takes, over the same file-and-answer exchange as an attestation."""
    from datetime import datetime

    from gateway.clock import JST
    from gateway.operations import incidents

    texts = ("content", "place", "circumstances", "occurred_at")
    optional = ("transfer", "incident")
    ok = isinstance(report, dict) and all(isinstance(report.get(k), str) for k in texts) \
        and type(report.get("records")) is int and all(report.get(k) is None or isinstance(report.get(k), str)
                                                       for k in optional)
    at = None
    if ok:
        try:
            at = datetime.fromisoformat(report["occurred_at"])
        except ValueError:
            ok = False
    if not ok or at is None:
        raise refuse(jail.gw, jail.gate.caller_actor(), "incident.report", Invalid(
            "事故の報告の形式が正しくありません。gateway-client で作成してください。",
            "the incident report is not well formed; make it with gateway-client."),
            channel="vpn-sftp", source=jail.gate.source)
    facts = incidents.Facts(content=report["content"], records=report["records"], place=report["place"],
                            circumstances=report["circumstances"],
                            occurred_at=at if at.tzinfo else at.replace(tzinfo=JST))
    found = incidents.report(jail.gw, jail.gate.caller(), facts, transfer=report.get("transfer"),
                             incident=report.get("incident"))
    return {"incident": found}


def transfer_list(jail: Jail) -> bytes:
    """The transfers addressed to this handler's organisation under approvals that name them, with
    their deadlines (JSON); those whose gateway copy was erased too, for their erasure is due."""
    rows = [{"id": t.id, "approval": t.approval_id, "channel": t.channel, "records": t.record_count,
             "sha256": t.plaintext_sha256, "package_sha256": t.package_sha256, "state": t.state,
             "sent_at": timestamp(t.sent_at), "receipt_due": timestamp(t.receipt_due),
             "gateway_erase_due": timestamp(t.gateway_erase_due),
             "contractor_deletion_due": timestamp(t.contractor_deletion_due) if t.contractor_deletion_due else None}
            for t in transfers_for(jail.gw, jail.gate.login or "", erased=True)]
    return json.dumps(rows, ensure_ascii=False).encode("utf-8")
