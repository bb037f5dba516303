"""Receiving an upload: the multipart body streamed straight to a file in the private work area,
encrypted as it arrives under a key held only in memory (crypto/sealed.py): the resident file is
never on disk in clear. An upload that is kept as it came (a contractor's deliverable) goes
instead straight into the blob store (`into`, store/blob_writer.py), encrypted under its blob's
data key as it arrives, so that nothing re-reads and re-encrypts it when the body ends.
Nothing is held in memory beyond one chunk; the declared size is checked against the limit and
the free disk before the first byte is read, and the running size after every chunk. The file is
named `<pid>.<random>.upload`, so the send operation's stale-work sweep removes what a killed
process left behind; on any error or a dropped connection it is removed at once. The client's
filename is only ever a label, never part of a path.
"""
from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from gateway.channels.lgwan_asp import csrf
from gateway.channels.lgwan_asp.labels import byte_size
from gateway.crypto.sealed import SealedFile
from gateway.errors import Invalid, TooLarge, Unavailable
from gateway.store.blob_writer import BlobWriter

MAX_FIELDS = 20
MAX_FIELD_BYTES = 4096
MAX_FILENAME = 255
# While a send runs, the upload, the package being encrypted in the work area and its copy encrypted
# at rest in the blob store are each about the size of the upload.
DISK_FACTOR = 3




@dataclass
class Upload:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    path: SealedFile | None = None
    blob: BlobWriter | None = None  # where the file part went instead, when `receive` was given `into`
    size: int = 0

    @property
    def received(self) -> bool:
        return self.path is not None or self.blob is not None

    def discard(self) -> None:
        if self.path is not None:
            self.path.discard()
        if self.blob is not None:
            self.blob.discard()  # nothing once finished: then the blob is its recorder's


def work_dir(root: Path) -> Path:
    work = root / "work"
    work.mkdir(mode=0o700, exist_ok=True)
    return work


def browser_filename(raw: bytes) -> str:
    """The filename as the person's computer had it. Browsers (HTML multipart rules) send CR, LF
    and double quote as %0D %0A %22; undo exactly those, so the name is shown as it is."""
    text = raw.decode("utf-8", "replace")
    for enc, ch in (("%0D", "\r"), ("%0A", "\n"), ("%22", '"'), ("%0d", "\r"), ("%0a", "\n")):
        text = text.replace(enc, ch)
    return text[:MAX_FILENAME]


def too_large(limit: int) -> TooLarge:
    size = byte_size(limit)
    return TooLarge(f"ファイルが大きすぎます（上限 {size}）。分割するか管理者に相談してください。",
                    f"the file is too large (limit {size}); split it or ask the administrator.")


async def receive(request: Request, work: Path, *, limit: int, expected_csrf: str | None,
                  into: Callable[[], BlobWriter] | None = None) -> Upload:
    """Parse the request body; the file goes to `work`, or to the blob writer `into` opens (the
    caller finishes it: committing the object is blocking work, not the event loop's).
    `expected_csrf` must arrive as a form field before the file part (forms put it first), so no
    byte is written for a forged request."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise Invalid("multipart/form-data で送信してください。", "send the form as multipart/form-data.")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Invalid("不正な要求です。", "bad request.")
        if int(declared) > limit + 64 * 1024:
            raise too_large(limit)
        if shutil.disk_usage(work).free < int(declared) * DISK_FACTOR:
            raise Unavailable("ゲートウェイの空き容量が足りません。時間をおいて再度送信してください。",
                              "the gateway has not enough free disk for this file; try again later.")
    up = Upload()
    part: dict = {}
    out: list = [None]  # the open file of the current file part

    def on_part_begin() -> None:
        part.clear()
        part.update(headers={}, field=b"", value=bytearray(), name=None, file=False)

    def on_header_field(data: bytes, start: int, end: int) -> None:
        part["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        key = part["field"].lower()
        part["headers"][key] = part["headers"].get(key, b"") + data[start:end]

    def on_header_end() -> None:
        part["field"] = b""

    def on_headers_finished() -> None:
        _, opts = parse_options_header(part["headers"].get(b"content-disposition", b""))
        part["name"] = opts.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in opts:
            if part["name"] != "file" or up.received:
                raise Invalid("ファイルは 1 つだけ送信できます。", "send exactly one file.")
            if expected_csrf is not None and not csrf.matches(expected_csrf, up.fields.get(csrf.FIELD)):
                raise csrf.form_expired()
            part["file"] = True
            up.filename = browser_filename(opts[b"filename"])
            if into is not None:
                up.blob = out[0] = into()
            else:
                up.path = SealedFile(work / f"{os.getpid()}.{secrets.token_hex(8)}.upload")
                up.path.shown_as = up.filename
                out[0] = up.path

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if part["file"]:
            up.size += end - start
            if up.size > limit:
                raise too_large(limit)
            out[0].write(data[start:end])
        else:
            part["value"] += data[start:end]
            if len(part["value"]) > MAX_FIELD_BYTES:
                raise Invalid("入力欄の値が長すぎます。", "a form field is too long.")

    def on_part_end() -> None:
        if part["file"]:
            if isinstance(out[0], SealedFile):
                out[0].finish()
            out[0] = None
        elif part["name"]:
            if len(up.fields) >= MAX_FIELDS:
                raise Invalid("入力欄が多すぎます。", "too many form fields.")
            up.fields[part["name"]] = part["value"].decode("utf-8", "replace")

    parser = MultipartParser(params[b"boundary"], {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data, "on_part_end": on_part_end,
    })
    try:
        try:
            async for chunk in request.stream():
                parser.write(chunk)
            parser.finalize()
        except MultipartParseError:
            raise Invalid("送信データの形式が正しくありません（multipart の構造が壊れています）。画面から送り直してください。",
                          "the request body is not well-formed multipart; send it again from the form.") from None
        if out[0] is not None:  # the body ended inside the file part: a truncated upload
            raise ClientDisconnect()
    except BaseException:
        up.discard()
        raise
    if expected_csrf is not None and not csrf.matches(expected_csrf, up.fields.get(csrf.FIELD)):
        up.discard()
        raise csrf.form_expired()
    return up
