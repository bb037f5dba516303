"""Taking one file from the hot folder through the core send operation, restart-safe.

A file is claimed by writing a sidecar (`.processing/<token>.json`: where it came from) and then
moving it atomically next to it (`.processing/<token>.data`, same filesystem). It ends as
`.done/<folder>/<name>.json` (transfer, manifest, where the password notice is), with the plaintext
deleted, or as `.rejected/<folder>/<name>` with `<name>.reasons.txt`. The `.done` and `.rejected`
trees mirror the folders, so two files of the same name in different approval folders never meet.

Restart safety: the send is idempotent by content hash and folder (`SendRequest.source_key`), so
a file found in `.processing` after a crash is either finished (it was sent: write `.done`, delete
the plaintext) or put back where it came from (it was not), never sent twice and never lost.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from gateway.channels.hotfolder.layout import DONE, PROCESSING, REJECTED, InTree, Reject, Take
from gateway.errors import GatewayError, Invalid
from gateway.fsutil import atomic_output, fsync_dir
from gateway.ledger.log import SYSTEM, Event
from gateway.operations import workarea
from gateway.operations.accounts import Caller
from gateway.operations.attempt import refuse
from gateway.operations.send import AlreadySent, SendRequest, send, sent_as
from gateway.service import Gateway
from gateway.store import faultpoints
from gateway.store import models as m
from gateway.store.registry import get_profile

CHANNEL = "hotfolder"


@dataclass(frozen=True)
class Claim(InTree):
    token: str
    data: Path
    parts: tuple[str, ...]


def _regular(path: Path) -> bool:
    """Whether `path` is a regular file, judged on a descriptor opened without following a link and
    without waiting on a pipe (O_NOFOLLOW|O_NONBLOCK), so what is judged is what is there."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        return stat.S_ISREG(os.fstat(fd).st_mode)
    finally:
        os.close(fd)


class HotFolder:
    def __init__(self, gw: Gateway, root: Path, owner: str) -> None:
        self.gw = gw
        self.root = root
        self.owner = owner
        for area in (PROCESSING, DONE, REJECTED):
            (root / area).mkdir(mode=0o700, exist_ok=True)
        self.notices = gw.home.root / "notices"
        self.notices.mkdir(mode=0o700, exist_ok=True)

    # -- claiming ---------------------------------------------------------------------------

    def claim(self, take: Take) -> Claim | None:
        """Move the file into the private processing area; None if it vanished meanwhile."""
        token = secrets.token_hex(12)
        sidecar = self.root / PROCESSING / f"{token}.json"
        with atomic_output(sidecar) as out:
            out.write(json.dumps({"parts": list(take.parts)}, ensure_ascii=False).encode())
        data = self.root / PROCESSING / f"{token}.data"
        try:
            os.replace(take.path, data)
        except FileNotFoundError:
            sidecar.unlink()
            return None
        fsync_dir(self.root / PROCESSING)
        fsync_dir(take.path.parent)
        if not _regular(data):
            # Swapped for a link or a pipe between the scan and the rename: the rename moved the
            # entry itself, never what it points at; it goes to the rejected area unopened.
            os.replace(data, data.with_suffix(".data.rejected"))
            sidecar.unlink()
            self.reject_entry(Reject(path=data.with_suffix(".data.rejected"), parts=take.parts,
                                     ja="通常のファイルではありません（リンクや特殊ファイルは受け付けません）。",
                                     en="not a regular file (links and special files are not accepted)."))
            return None
        faultpoints.reached("hotfolder:after-claim")
        self.gw.record(Event(action="hotfolder.claim", channel=CHANNEL, approval=take.approval,
                             reason=f"took {json.dumps(take.folder + '/' + take.name, ensure_ascii=False)}"))
        return Claim(token, data, take.parts)

    # -- processing -------------------------------------------------------------------------

    def process(self, claim: Claim) -> str:
        """Send a claimed file; returns "done" or "rejected"."""
        key = self.source_key(claim)
        if (earlier := sent_as(self.gw, key)) is not None:
            self._done(claim, earlier)
            return "done"
        try:
            method = self._notice_method(claim.profile)
            notice = self.notices / f"{claim.token}.html"
            sent = send(self.gw, Caller(self.owner, CHANNEL), SendRequest(
                file=claim.data, approval=claim.approval, profile=claim.profile, recipient=claim.recipient,
                password_delivery=method, source_key=key, notice_to=notice,
            ))
        except AlreadySent as already:
            self._done(claim, already.transfer)
            return "done"
        except GatewayError as err:
            self._reject(claim, err.ja, err.en)
            return "rejected"
        faultpoints.reached("hotfolder:before-notice-rename")
        final_notice = self.notices / f"{sent.transfer}.html"
        os.replace(notice, final_notice)
        fsync_dir(self.notices)
        faultpoints.reached("hotfolder:before-done")
        self._done(claim, sent.transfer, notice=final_notice)
        return "done"

    def reject_entry(self, entry: Reject) -> None:
        """An entry that must not stay in the folder (a link, a device, a misplaced file)."""
        target = self._free(self.root / REJECTED / Path(*entry.parts))
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            os.replace(entry.path, target)  # moves a link or a pipe itself; never opens it
        except FileNotFoundError:
            return
        self._reasons(target, entry.ja, entry.en)
        name = json.dumps("/".join(entry.parts), ensure_ascii=False)
        refuse(self.gw, SYSTEM, "hotfolder.reject", Invalid(f"{name}: {entry.ja}", f"{name}: {entry.en}"),
               channel=CHANNEL)

    def source_key(self, claim: Claim) -> str:
        digest = hashlib.sha256()
        with claim.data.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        folder = hashlib.sha256(claim.folder.encode("utf-8")).hexdigest()[:32]
        return f"hf:{digest.hexdigest()}:{folder}"

    def _notice_method(self, profile_id: str) -> str:
        with self.gw.unit() as session:
            methods = get_profile(session, profile_id).password_delivery
        return "registered-mail" if "registered-mail" in methods else methods[0]

    def _done(self, claim: Claim, transfer_id: str, notice: Path | None = None) -> None:
        with self.gw.unit() as session:
            t = session.get(m.Transfer, transfer_id)
            assert t is not None
            record = {
                "transfer": t.id, "approval": t.approval_id, "recipient": t.recipient_organisation_id,
                "profile": t.profile_id, "records": t.record_count, "sha256": t.plaintext_sha256,
                "manifest": t.manifest,
                "password_notice": str(notice or self.notices / f"{t.id}.html"),
            }
        target = self._free(self.root / DONE / claim.folder / f"{claim.name}.json")
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with atomic_output(target) as out:
            out.write(json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8"))
        faultpoints.reached("hotfolder:before-erase")
        self._erase_plaintext(claim)

    def _erase_plaintext(self, claim: Claim) -> None:
        if claim.data.exists():
            claim.data.unlink()
            fsync_dir(claim.data.parent)
            self.gw.record(Event(action="hotfolder.erase", channel=CHANNEL, approval=claim.approval,
                                 reason=f"plaintext of {json.dumps(claim.name, ensure_ascii=False)} removed "
                                        "from the hot folder after encryption"))
        self._sidecar(claim).unlink(missing_ok=True)

    def _reject(self, claim: Claim, ja: str, en: str) -> None:
        target = self._free(self.root / REJECTED / Path(*claim.parts))
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.replace(claim.data, target)
        self._reasons(target, ja, en)
        self._sidecar(claim).unlink(missing_ok=True)

    def _reasons(self, target: Path, ja: str, en: str) -> None:
        with atomic_output(target.with_name(target.name + ".reasons.txt")) as out:
            out.write(f"{ja}\n\n{en}\n".encode())

    # -- after a crash ----------------------------------------------------------------------

    def recover(self) -> list[Claim]:
        """Claims a killed process left behind: the ones still to process. A claim whose send
        committed is finished, and its password notice (still under the claim's token if the
        process died before renaming it) becomes the transfer's: it is the only copy of that
        package's passphrase. A notice of a send that never committed opens nothing and goes."""
        workarea.recover(self.gw)
        pending = []
        for sidecar in sorted((self.root / PROCESSING).glob("*.json")):
            token = sidecar.stem
            data = sidecar.with_name(f"{token}.data")
            try:
                parts = tuple(json.loads(sidecar.read_text(encoding="utf-8"))["parts"])
            except (ValueError, KeyError):
                sidecar.unlink()
                continue
            if not data.exists():
                sidecar.unlink()  # the claim never moved the file, or it was finished
                continue
            claim = Claim(token, data, parts)
            notice = self.notices / f"{token}.html"
            earlier = sent_as(self.gw, self.source_key(claim))
            if earlier is not None:
                final = self.notices / f"{earlier}.html"
                if notice.exists() and not final.exists():
                    os.replace(notice, final)
                    fsync_dir(self.notices)
                self._done(claim, earlier, notice=final)
            else:
                # Its send never committed: the notice holds a passphrase that opens nothing, and
                # the claim is sent again with a new one.
                notice.unlink(missing_ok=True)
                pending.append(claim)
        return pending

    def _sidecar(self, claim: Claim) -> Path:
        return self.root / PROCESSING / f"{claim.token}.json"

    @staticmethod
    def _free(path: Path) -> Path:
        """`path`, or a numbered variant if an earlier file of the same name already ended there."""
        n = 1
        candidate = path
        while candidate.exists():
            n += 1
            candidate = path.with_name(f"{path.name}.{n}")
        return candidate
