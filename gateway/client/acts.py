"""What a handler does with gateway-client, over whichever channel: receive a package (download,
decrypt, count, hash in one pass, then the signed receipt), request and certify the erasure of
their copies, deliver a file and declare it. The command line (cli.py) and the simulator's
contractors call these; each signed attestation is dated by the client's clock.
"""
from __future__ import annotations

import io
import os
import time
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from gateway.attestations import document as d
from gateway.client.channel import Channel
from gateway.client.read_ahead import ReadAhead
from gateway.client.signer import Signer
from gateway.clock import Clock, timestamp
from gateway.crypto import age
from gateway.crypto.passphrase import TypedPassphrase
from gateway.errors import Invalid
from gateway.fsutil import atomic_output

READ_BUFFER = 1024 * 1024


@dataclass(frozen=True)
class Unpacked:
    output: Path
    records: int
    sha256: str
    size: int
    package_sha256: str


def unpack(source: AbstractContextManager[BinaryIO], output: Path, passphrase: bytes,
           max_work_factor: int = age.DEFAULT_MAX_WORK_FACTOR) -> Unpacked:
    """Read the package once: its bytes hashed on the way in, decrypted, the plaintext hashed,
    counted and written to `output`, which appears only once the whole package authenticated."""
    from gateway.core.records.streams import HashingReader
    from gateway.crypto.unpack import decrypt_count_hash

    try:
        with source as raw, ReadAhead(raw) as ahead:
            package = HashingReader(ahead)  # type: ignore[arg-type]
            with atomic_output(output) as out:
                digest, records = decrypt_count_hash(io.BufferedReader(package, READ_BUFFER), out,
                                                     TypedPassphrase(passphrase, max_work_factor), output.name)
    except age.AgeError as err:
        from gateway.crypto.unpack import decrypt_refusal

        raise decrypt_refusal(err, None) from None
    if records is None:
        records = _opaque_count(output)
    if records is None:
        raise Invalid(f"復号したファイル {output} は宛名ファイルとして読めないため、件数を確認できません。受領確認は提出していません。",
                      f"the decrypted file {output} is not a readable recipient file, so its records cannot be "
                      "counted; no receipt was filed.")
    return Unpacked(output, records, digest.sha256, digest.size, package.sha256.hexdigest())


def _opaque_count(output: Path) -> int | None:
    """Pages of a PDF or files of a ZIP, where the package held a scan instead of a recipient file."""
    from gateway.core.records.opaque import inspect, sniff
    from gateway.errors import GatewayError

    with output.open("rb") as f:
        if sniff(f.read(8)) is None:
            return None
        try:
            return inspect(f, output.name).count
        except GatewayError:
            return None


def confirm(channel: Channel, signer: Signer, transfer: str, *, records: int, sha256: str,
            package_sha256: str | None, at: datetime) -> dict[str, Any]:
    """The signed receipt (預り証): the count and SHA-256 the handler found."""
    return channel.file(signer.sign(d.RECEIPT, transfer=transfer, login=channel.login, at=at, record_count=records,
                                    sha256=sha256, package_sha256=package_sha256))


def receive(channel: Channel, signer: Signer, transfer: str, output: Path, passphrase: bytes, *,
            clock: Clock, package: Path | None = None, file_receipt: bool = True) -> dict[str, Any]:
    """Download (or read courier media's `package`), decrypt, count and hash in one pass; then
    file the signed receipt. The answer says whether it matched what was sent."""
    started = time.perf_counter()
    source: AbstractContextManager[BinaryIO] = package.open("rb") if package is not None \
        else channel.package(transfer)
    got = unpack(source, output, passphrase)
    result: dict[str, Any] = {"transfer": transfer, "output": str(output), "records": got.records,
                              "sha256": got.sha256, "size": got.size, "package_sha256": got.package_sha256}
    if file_receipt:
        answer = confirm(channel, signer, transfer, records=got.records, sha256=got.sha256,
                         package_sha256=got.package_sha256, at=clock.now())
        result.update(matches=answer.get("matches"), evidence=answer.get("evidence"),
                      attestation=answer.get("attestation"))
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


def request_deletion(channel: Channel, signer: Signer, transfer: str, *, items: str, media: str, quantity: int,
                     method: str, planned_date: date, clock: Clock) -> dict[str, Any]:
    return channel.file(signer.sign(d.DELETION_REQUEST, transfer=transfer, login=channel.login, at=clock.now(),
                                    items=items, media=media, quantity=quantity, method=method,
                                    planned_date=planned_date.isoformat()))


@dataclass(frozen=True)
class Certificate:
    """The erasure certificate's fields (NIST SP 800-88 Rev. 1, Appendix G)."""

    erased_at: datetime
    media_manufacturer: str
    media_model: str
    media_serial_or_location: str
    sanitisation: str  # clear | purge | destroy
    technique: str
    tool: str
    verification: str
    sanitised_by: dict[str, str]  # {name, title}
    verified_by: dict[str, str]
    place: str


def certify(channel: Channel, signer: Signer, transfer: str, deletion: str, certificate: Certificate, *,
            clock: Clock) -> dict[str, Any]:
    fields = {**asdict(certificate), "erased_at": timestamp(certificate.erased_at)}
    return channel.file(signer.sign(d.ERASURE_CERTIFICATE, transfer=transfer, login=channel.login, at=clock.now(),
                                    deletion=deletion, **fields))


def deliver(channel: Channel, signer: Signer, transfer: str, path: Path, *, name: str | None = None,
            clock: Clock) -> dict[str, Any]:
    """Upload a deliverable, then declare it, signed: its name, size and SHA-256."""
    if not path.is_file():
        raise Invalid(f"納品するファイルがありません: {path}", f"no such file to deliver: {path}")
    name = name or os.path.basename(path)
    sent = channel.deliver(transfer, path, name)
    answer = channel.file(signer.sign(d.DELIVERABLE, transfer=transfer, login=channel.login, at=clock.now(),
                                      name=name, sha256=sent["sha256"], size=sent["size"]))
    return {"transfer": transfer, "name": name, "sha256": sent["sha256"], "size": sent["size"],
            "deliverable": sent.get("deliverable"), "evidence": answer.get("evidence"),
            "attestation": answer.get("attestation")}
