"""What a contractor's handler sees over SFTP: `/outbox`, `/inbox`, `/attestations` and
`/transfers.json`, nothing else.

`/outbox/<transfer>.age`: the packages addressed to their organisation that they may download,
read-only; opening one is checked (`operations.receive.may_download`) and reading it goes
through `operations.receive.download` (handler check, log entry, refusal after erasure;
outbox.py). `/inbox/<transfer>.<name>`: write-only; a deliverable under that
transfer, encrypted into the blob store as it arrives (store/blob_writer.py) and recorded by
`operations.deliverables.upload` when the client closes it. `/attestations/<name>.json`: a
signed attestation, filed when the client closes it, its answer read back from the same path
(attestations.py); `/transfers.json`: the handler's transfers and deadlines. Paths are normalised
inside the jail; links, renames, removals,
directories and attribute changes are refused. A client that disconnects mid-upload leaves
nothing, and the log says so.
"""
from __future__ import annotations

import os
import posixpath
import re
import shutil
from typing import Any

import paramiko
from paramiko.sftp import SFTP_FAILURE, SFTP_NO_SUCH_FILE, SFTP_OK, SFTP_OP_UNSUPPORTED, SFTP_PERMISSION_DENIED
from sqlalchemy import select

from gateway.channels.vpn_sftp import attestations
from gateway.channels.vpn_sftp.common import Gate, attrs, status_of
from gateway.channels.vpn_sftp.outbox import MAX_OPEN, PackageHandle
from gateway.core.transfers import HELD
from gateway.errors import Category, Forbidden, GatewayError, TooLarge, Unavailable
from gateway.ledger.log import Event
from gateway.operations import deliverables
from gateway.operations.attempt import refuse
from gateway.operations.listing import package_sizes, transfers_for
from gateway.operations.receive import may_download
from gateway.store import faultpoints

CHANNEL = "vpn-sftp"


OUTBOX, INBOX = "/outbox", "/inbox"
MAX_UPLOADS = 8  # open at once in one session: each holds a blob being written
# The upload's copy encrypted at rest is about the size of the upload, with room to spare.
DISK_FACTOR = 2
DISK_STRETCH = 8 * 1024 * 1024  # free disk is checked for this much of an upload at a time
_INBOX_NAME = re.compile(r"^(T\d{8}-[0-9a-f]{10})\.([^/\x00]{1,200})$")


class _Upload(paramiko.SFTPHandle):
    """A deliverable on its way in: authorised when it was opened, bounded as its bytes arrive
    (the installation's upload cap, and free disk for it), and encrypted into the blob store as
    they arrive (store/blob_writer.py, under the blob's own key): never on disk in clear, and
    never read back at close, when the client is waiting. So the bytes must come in order, each
    write where the last one ended, as clients' `put` sends them; any other write is refused and
    nothing is kept. The close hands the blob to the operation that records it."""

    def __init__(self, jail: Jail, transfer: str, name: str) -> None:
        super().__init__(os.O_WRONLY)
        self.jail, self.transfer, self.name = jail, transfer, name
        self.blob = jail.gw.blobs().writer(at=jail.gw.clock.now())
        self.finished = False
        self.refused = False  # a write went past a bound: the close refuses, and nothing is kept
        self.end = 0

    def write(self, offset: int, data: bytes) -> int:
        if self.refused:
            return SFTP_FAILURE
        if offset != self.end:
            self.refused = True
            self.jail.refuse_out_of_order(self, offset)
            return SFTP_FAILURE
        end = offset + len(data)
        limit = self.jail.gw.settings.portal.max_upload_bytes
        if end > limit or self._disk_short(offset, end):
            self.refused = True
            self.jail.refuse_upload(self, end > limit, limit)
            return SFTP_FAILURE
        self.blob.write(data)
        self.end = end
        return SFTP_OK

    def _disk_short(self, offset: int, end: int) -> bool:
        """Whether the disk lacks room for the next stretch of the upload. Asked at the first write
        and whenever the upload enters a new DISK_STRETCH, for that whole stretch: once per write
        (32 KiB from OpenSSH's sftp) it was 4 % of the server's CPU during an upload."""
        if offset and offset // DISK_STRETCH == end // DISK_STRETCH:
            return False
        return shutil.disk_usage(self.jail.gw.home.root).free < max(end - offset, DISK_STRETCH) * DISK_FACTOR

    def stat(self) -> paramiko.SFTPAttributes:
        return attrs(self.name, directory=False, size=self.end)

    def close(self) -> int:
        result = SFTP_OK
        self.jail.uploads.discard(self)
        try:
            if self.refused:
                return SFTP_FAILURE
            faultpoints.reached("upload:sftp-before-store")
            deliverables.upload(self.jail.gw, self.jail.gate.caller(), self.transfer, self.name, self.blob)
            self.finished = True
        except GatewayError as err:
            result = status_of(err)
        finally:
            self.blob.discard()  # nothing once recorded: then the blob is the deliverable's
        return result

    def abandon(self) -> None:
        """The client went away before closing: nothing of the upload stays."""
        self.blob.discard()


class Jail(paramiko.SFTPServerInterface):
    def __init__(self, gate: Gate, *args: Any, **kwargs: Any) -> None:
        super().__init__(gate, *args, **kwargs)
        self.gate = gate
        self.gw = gate.gw
        self.uploads: set[_Upload] = set()
        self.answers: dict[str, bytes] = {}  # /attestations/<name> -> the answer to its filing
        self.packages: set[PackageHandle] = set()  # open for download in this session

    def session_ended(self) -> None:
        for upload in list(self.uploads):
            upload.abandon()
            self.gw.record(Event(action="deliverable.upload", channel=CHANNEL, actor=self.gate.caller_actor(),
                                 source=self.gate.source, transfer=upload.transfer, outcome="failed",
                                 reason=f"connection closed during the upload of {upload.name!r}; nothing kept"))
        self.uploads.clear()

    # -- paths ------------------------------------------------------------------------------

    @staticmethod
    def _norm(path: str) -> str | None:
        if "\x00" in path or "\\" in path:
            return None
        return posixpath.normpath("/" + path.lstrip("/")) if path else "/"

    def canonicalize(self, path: str) -> str:
        return self._norm(path) or "/"

    def _packages(self) -> dict[str, tuple[Any, int]]:
        visible = transfers_for(self.gw, self.gate.login or "")
        sizes = package_sizes(self.gw, visible)
        return {f"{t.id}.age": (t, sizes.get(t.id, 0)) for t in visible}

    # -- reading ----------------------------------------------------------------------------

    def list_folder(self, path: str) -> Any:
        p = self._norm(path)
        if p == "/":
            return [attrs("outbox", directory=True), attrs("inbox", directory=True),
                    attrs("attestations", directory=True), attrs(attestations.TRANSFERS[1:], directory=False)]
        if p == attestations.ATTESTATIONS:
            return [attrs(name, directory=False, size=len(data)) for name, data in self.answers.items()]
        if p == OUTBOX:
            return [attrs(name, directory=False, size=size, mtime=t.sent_at.timestamp())
                    for name, (t, size) in self._packages().items()]
        if p == INBOX:
            return []  # write-only: what was delivered is not listed back
        return SFTP_NO_SUCH_FILE

    def stat(self, path: str) -> Any:
        p = self._norm(path)
        if p in ("/", OUTBOX, INBOX, attestations.ATTESTATIONS):
            return attrs(posixpath.basename(p) or "/", directory=True)
        if p == attestations.TRANSFERS:
            return attrs(p[1:], directory=False, size=len(attestations.transfer_list(self)))
        if p is not None and posixpath.dirname(p) == attestations.ATTESTATIONS and posixpath.basename(p) in self.answers:
            return attrs(posixpath.basename(p), directory=False, size=len(self.answers[posixpath.basename(p)]))
        if p is not None and posixpath.dirname(p) == OUTBOX:
            name = posixpath.basename(p)
            found = self._packages().get(name)
            if found is not None:
                t, size = found
                return attrs(name, directory=False, size=size, mtime=t.sent_at.timestamp())
            if name.endswith(".age") and self._addressed_here(name[: -len(".age")]):
                # Addressed to this organisation but not downloadable by this person (not on the
                # handler list, or already erased): let the open be attempted, refused and logged.
                return attrs(name, directory=False)
        return SFTP_NO_SUCH_FILE

    def _addressed_here(self, transfer_id: str) -> bool:
        from gateway.store import models as m

        with self.gw.read() as session:
            user = session.scalar(select(m.User).where(m.User.login == self.gate.login))
            t = session.get(m.Transfer, transfer_id)
            return user is not None and t is not None and t.recipient_organisation_id == user.organisation_id \
                and t.state not in HELD

    lstat = stat

    def open(self, path: str, flags: int, attr: paramiko.SFTPAttributes) -> Any:
        p = self._norm(path)
        if p is None:
            return SFTP_PERMISSION_DENIED
        writing = flags & (os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC)
        directory, name = posixpath.split(p)
        if directory == OUTBOX and not writing and name.endswith(".age"):
            return self._read_package(name[: -len(".age")])
        if directory == INBOX and (flags & os.O_WRONLY) and not (flags & os.O_RDWR):
            return self._write_deliverable(name)
        if p == attestations.TRANSFERS and not writing:
            return attestations.Readable(name, attestations.transfer_list(self))
        if directory == attestations.ATTESTATIONS and attestations.NAME.match(name):
            if not writing and name in self.answers:
                return attestations.Readable(name, self.answers[name])
            if (flags & os.O_WRONLY) and not (flags & os.O_RDWR):
                return attestations.Filing(self, name)
        return self._refuse("sftp.open", f"{'write' if writing else 'read'} of {p!r}")

    def _read_package(self, transfer_id: str) -> Any:
        # Only whether the caller may have it is decided here (refusals logged); the package is
        # decrypted, and the download logged, once the client reads (outbox.py).
        try:
            size = may_download(self.gw, self.gate.caller(), transfer_id)
        except GatewayError as err:
            return status_of(err)
        if len(self.packages) >= MAX_OPEN:
            return self._refuse("transfer.download", f"more than {MAX_OPEN} packages open at once", transfer_id)
        limits = self.gate.limits
        if not limits.open_package(transfer_id):
            return self._refuse("transfer.download", f"this package open more than "
                                f"{limits.max_opens_per_transfer} times at once", transfer_id)
        handle = PackageHandle(self.gw, self.gate.caller(), transfer_id, size, self._package_closed)
        self.packages.add(handle)
        return handle

    def _package_closed(self, handle: PackageHandle) -> None:
        self.packages.discard(handle)
        self.gate.limits.close_package(handle.transfer)

    def _write_deliverable(self, name: str) -> Any:
        match = _INBOX_NAME.match(name)
        if match is None:
            return self._refuse("deliverable.upload", f"an inbox name other than <transfer>.<name> ({name!r})")
        if len(self.uploads) >= MAX_UPLOADS:
            return self._refuse("deliverable.upload", f"more than {MAX_UPLOADS} uploads open at once")
        try:
            # Who may deliver is decided before the first byte reaches the disk: the transfer
            # exists, is the caller's organisation's, and the caller is a designated handler.
            deliverables.authorise(self.gw, self.gate.caller(), match.group(1))
        except GatewayError as err:
            return status_of(err)
        upload = _Upload(self, match.group(1), match.group(2))
        self.uploads.add(upload)
        return upload

    # -- everything that would change the tree ---------------------------------------------

    def refuse_upload(self, upload: _Upload, too_large: bool, limit: int) -> None:
        err: GatewayError = TooLarge(
            f"ファイルが大きすぎます（上限 {limit:,} バイト）。分割するか管理者に相談してください。",
            f"{upload.name!r} is too large (limit {limit:,} bytes); split it or ask the administrator.") if too_large \
            else Unavailable("ゲートウェイの空き容量が足りません。時間をおいて再度送信してください。",
                             "the gateway has not enough free disk for this file; try again later.")
        refuse(self.gw, self.gate.caller_actor(), "deliverable.upload", err, channel=CHANNEL,
               source=self.gate.source, transfer=upload.transfer)
        if err.category is Category.UNAVAILABLE:  # not a refusal, so the attempt did not log it
            self.gw.record(Event(action="deliverable.upload", channel=CHANNEL, actor=self.gate.caller_actor(),
                                 source=self.gate.source, transfer=upload.transfer, outcome="failed",
                                 reason=err.en))

    def refuse_out_of_order(self, upload: _Upload, offset: int) -> None:
        self._refuse("deliverable.upload", f"a write at offset {offset} where the upload ends at {upload.end} "
                     "(uploads are received in order)", upload.transfer)

    def _refuse(self, action: str, what: str, transfer: str | None = None) -> int:
        """What the jail does not allow, logged like any refusal; the client sees permission denied.
        `transfer` is named only once the caller was found to be allowed to know of it."""
        return status_of(refuse(self.gw, self.gate.caller_actor(), action, Forbidden(
            f"この操作はできません（{what}）。/outbox からの受け取り、/inbox への納品、/attestations への署名付き申告だけができます。",
            f"{what} is not allowed: only downloads from /outbox, deliveries into /inbox and signed "
            "attestations into /attestations are."),
            channel=CHANNEL, source=self.gate.source, transfer=transfer))

    def remove(self, path: str) -> int:
        return self._refuse("sftp.remove", f"remove {path!r}")

    def rename(self, oldpath: str, newpath: str) -> int:
        return self._refuse("sftp.rename", f"rename {oldpath!r}")

    def posix_rename(self, oldpath: str, newpath: str) -> int:
        return self._refuse("sftp.rename", f"rename {oldpath!r}")

    def mkdir(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        return self._refuse("sftp.mkdir", f"mkdir {path!r}")

    def rmdir(self, path: str) -> int:
        return self._refuse("sftp.rmdir", f"rmdir {path!r}")

    def chattr(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        return self._refuse("sftp.setstat", f"change attributes of {path!r}")

    def symlink(self, target_path: str, path: str) -> int:
        return self._refuse("sftp.symlink", f"symlink {path!r}")

    def readlink(self, path: str) -> Any:
        return SFTP_OP_UNSUPPORTED
