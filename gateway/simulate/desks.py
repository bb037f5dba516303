"""How the people of a scenario reach the gateway.

Each hand-over goes through the channel of its transfer profile, as its users would use it: the
contractor's handlers download `vpn-sftp` packages with an SFTP client over a real socket, and
`lgwan-asp` packages through the portal over TLS with their terminal certificate. Where a channel
has no network front yet, the step goes through the same core operation the command line uses, and
the run's summary says which channels were driven over the network.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from gateway.core.records.reader import scan
from gateway.courier import custody, loss, media, returns
from gateway.crypto import age
from gateway.fsutil import atomic_output
from gateway.operations import notices
from gateway.operations.accounts import Caller
from gateway.operations.receive import confirm_receipt, download
from gateway.operations.send import SendRequest, send
from gateway.retention import deletion
from gateway.service import Gateway
from gateway.simulate.scenario import Scenario, Step
from gateway.store.registry import get_approval, get_profile


class Desks:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.scenario: Scenario | None = None
        self.work = gw.home.root / "contractors"

    def __enter__(self) -> "Desks":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def enrol(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.work.mkdir(mode=0o700, exist_ok=True)

    # -- who acts --------------------------------------------------------------------------

    def staff(self, step: Step) -> str:
        assert self.scenario is not None
        if step.get("as"):
            return str(step.get("as"))
        return next(u.login for u in self.scenario.users if u.role == "staff")

    def handler(self, step: Step, t: dict[str, Any]) -> str:
        if step.get("as"):
            return str(step.get("as"))
        with self.gw.unit() as session:
            approval = get_approval(session, t["approval"])
        handlers = approval.handlers_of(t["recipient"])
        return next(h.login for h in handlers if h.role == "responsible")

    def _channel(self, transfer: dict[str, Any], login: str) -> Caller:
        return Caller(login, "cli")

    # -- steps -----------------------------------------------------------------------------

    def send(self, step: Step, source: Path) -> dict[str, Any]:
        with self.gw.unit() as session:
            profile = get_profile(session, step.get("profile"))
        sent = send(self.gw, Caller(self.staff(step), "cli"), SendRequest(
            file=source, approval=step.get("approval"), profile=profile.id, recipient=step.get("recipient"),
            password_delivery=step.get("notice", "registered-mail"),
        ))
        return self._sent(step, sent, profile.channel)

    def relay(self, step: Step, parent: dict[str, Any]) -> dict[str, Any]:
        """The contractor forwards the plaintext it received to its approved subcontractor."""
        with self.gw.unit() as session:
            profile = get_profile(session, step.get("profile", "subcontract-courier"))
        plain = Path(parent["plaintext"])
        sent = send(self.gw, Caller(self.handler(step, parent), "cli"), SendRequest(
            file=plain, approval=parent["approval"], profile=profile.id, recipient=step.get("recipient"),
            password_delivery=step.get("notice", "hand"), parent_transfer=parent["transfer"],
        ))
        return self._sent(step, sent, profile.channel, sender=parent["recipient"])

    def _sent(self, step: Step, sent: Any, channel: str, sender: str | None = None) -> dict[str, Any]:
        return {
            "transfer": sent.transfer, "approval": step.get("approval") or "", "recipient": step.get("recipient"),
            "channel": channel, "records": sent.sent.record_count, "sha256": sent.sent.sha256,
            "passphrase": sent.passphrase, "sender": sender,
        } | ({"approval": self._approval_of(sent.transfer)} if not step.get("approval") else {})

    def _approval_of(self, transfer_id: str) -> str:
        from gateway.store import models as m

        with self.gw.unit() as session:
            row = session.get(m.Transfer, transfer_id)
            assert row is not None
            return row.approval_id

    def notice(self, step: Step, t: dict[str, Any]) -> None:
        notices.dispatch(self.gw, Caller(self.staff(step), "cli"), t["transfer"],
                         method=step.get("method", "registered-mail"))

    def download(self, step: Step, t: dict[str, Any]) -> None:
        login = self.handler(step, t)
        package = self.work / f"{t['transfer']}.{login}.age"
        if t["channel"] == "courier" and not step.get("expect"):
            # Courier packages arrive on media: the receiver reads them from the disc images.
            media.extract([Path(p) for p in t["media"]], package)
        else:
            with atomic_output(package) as out:
                download(self.gw, self._channel(t, login), t["transfer"], out)
        t["package"] = str(package)

    def confirm(self, step: Step, t: dict[str, Any]) -> None:
        """Decrypt with the passphrase from the notice, count, and confirm what was counted."""
        plain = self.work / f"{t['transfer']}.csv"
        digest = age.decrypt_file(t["package"], plain, passphrase=t["passphrase"])
        count = scan(plain).record_count
        t["plaintext"] = str(plain)
        sha256 = digest.sha256
        if step.get("skip_receipt"):
            return  # the contractor decrypts and gets to work, but never confirms receipt
        if step.get("wrong_checksum"):
            sha256 = ("0" if sha256[0] != "0" else "1") + sha256[1:]
        confirm_receipt(self.gw, Caller(self.handler(step, t), "cli"), t["transfer"], record_count=count,
                        sha256=sha256)

    def courier(self, step: Step, t: dict[str, Any]) -> None:
        """Media written, media and notice handed over (確認書), returned, or reported lost."""
        sender = self.sender_of(t)
        receiver = self.handler(Step("courier", timedelta(0), {}), t)
        what = step.get("do")
        item = t.get("serial") if step.get("item", "media") == "media" else custody.notice_id(t["transfer"])
        if what == "write":
            serial = step.get("serial") or f"M-{t['transfer'][-6:]}"
            written = media.write_media(self.gw, Caller(sender, "cli"), t["transfer"], media=step.get("media", "cdr"),
                                        serial=serial, out_dir=self.work / "media", cabinet=step.get("cabinet"))
            t["serial"], t["media"] = serial, [str(p) for p in written.paths]
            return
        if what == "lost":
            loss.report_loss(self.gw, Caller(receiver, "cli"), loss.Loss(
                item=str(item), place=step.get("place", "配送途中"), circumstances="受領確認の際に所在不明と判明"))
            return
        giver, taker = (sender, receiver) if what == "handover" else (receiver, sender)
        request = custody.Handover(
            item=str(item), to=taker, frm=giver, place=step.get("place", "受付窓口"), quantity=1,
            cabinet=step.get("cabinet", f"{'媒体' if step.get('item', 'media') == 'media' else '通知書'}保管庫"),
            run=step.get("run"), receipt_no=f"R-{item}-{what}")
        if what == "handover":
            custody.handover(self.gw, Caller(giver, "cli"), request)
        else:
            returns.return_item(self.gw, Caller(giver, "cli"), request)

    def sender_of(self, t: dict[str, Any]) -> str:
        from gateway.store import models as m

        with self.gw.unit() as session:
            row = session.get(m.Transfer, t["transfer"])
            assert row is not None
            user = session.get(m.User, row.sender_user_id)
            assert user is not None
            return user.login

    def delete(self, step: Step, t: dict[str, Any]) -> None:
        """Deletion request, the city's approval, the erasure certificate (the contractor's copies)."""
        handler = self.handler(step, t)
        now = self.gw.clock.now()
        for leftover in self.work.glob(f"{t['transfer']}*"):
            leftover.unlink()
        deletion_id = deletion.request(self.gw, Caller(handler, "cli"), t["transfer"], deletion.DeletionRequest(
            items="宛名データ一式（受領ファイル・作業用データ）", media="作業サーバー", quantity=1,
            method="暗号消去および上書き", planned_date=(now + timedelta(days=1)).date()))
        # The city decides, for its contractor's and its subcontractor's copies alike.
        deletion.decide(self.gw, Caller(self.staff(Step("delete", timedelta(0), {})), "cli"), deletion_id, approve=True,
                        witness=step.get("witness"))
        deletion.certify(self.gw, Caller(handler, "cli"), deletion_id, deletion.ErasureCertificate(
            erased_at=now, media_manufacturer="（作業サーバー）", media_model="SSD", media_serial_or_location="作業室",
            sanitisation="purge", technique="暗号消去", tool="gateway-sim 1.0", verification="読み出し不能を確認",
            sanitised_by=deletion.Person("取扱責任者", "取扱責任者"), verified_by=deletion.Person("情報管理者", "管理者"),
            place="受託者作業室"))
