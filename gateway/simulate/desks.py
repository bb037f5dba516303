"""How the people of a scenario reach the gateway: over the network wherever a channel has one,
and at the gateway's command line wherever an operator would type it.

- LGWAN-ASP portal (HTTPS with mutual TLS on 127.0.0.1, JSON API `/api/v1`, `portal_client.py`):
  every staff member and designated handler is enrolled as a portal user (terminal certificate,
  initial password, forced change of password). Staff send `lgwan-asp` hand-overs by uploading the
  recipient file, and record every password notice's dispatch, there; contractors download
  `lgwan-asp` packages, confirm their receipt, file deletion requests and erasure certificates there,
  and city staff decide those requests there.
- VPN line (SFTP over a real socket, paramiko): contractors' handlers download `vpn-sftp` packages
  with their own SSH keys; the brute-force fault guesses at that login. A `push` step also delivers
  a `vpn-sftp` package to the contractor's own SFTP server, a real OpenSSH sshd on 127.0.0.1
  (`opensshd.py`), with `gateway org pin-host` (its host key) and `gateway push`.
- Courier: the receiver reads the package from the media images the sender's desk wrote
  (`gateway courier extract`); media and notices change hands at the desks (確認書).
- The gateway's command line (`command_line.py`: the `gateway` entry point in-process, with an
  argv and `--json`, on the scenario's clock through `$GATEWAY_FAKE_NOW`), for what has no network
  way in, as an operator does it on behalf of the person named by `--as`:
  - sends of `vpn-sftp` and courier hand-overs (`gateway send`): the portal *is* the LGWAN-ASP
    channel, and the core refuses a hand-over uploaded there for another channel's profile
    (`unapproved-channel`); the SFTP server serves contractors only;
  - the contractor's relay to its subcontractor (`gateway send --relay-of`);
  - receipts of `vpn-sftp` and courier hand-overs (`gateway receipt`): the SFTP line only carries
    files, and the courier desk has no network;
  - their deletion requests, the city's decisions and the erasure certificates
    (`gateway deletion request|decide|certify`);
  - media written, handed over, returned or reported lost (`gateway courier write|handover|return|lost`);
  - a refused access to courier data (`gateway fetch`: nothing is on a disc for an attempt that
    must be refused).

What still calls the core directly:
- a security officer's declaration of an outside hand-over (`declare`): no `gateway` command
  records one;
- the retention scheduler: `gateway serve` runs it in-process too, at each deadline;
- the simulation's own set-up before the first step (approvals, accounts, SSH keys) and its final
  export of the evidence bundle: commands exist for these (`gateway approval add`, `gateway user
  add|add-key`, `gateway export evidence`), but they are the rehearsal's frame, acted by the
  `simulator` account, not steps of the scenario's people.
"""
from __future__ import annotations

import dataclasses
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import paramiko
from cryptography.hazmat.primitives.asymmetric import ed25519

from gateway.channels.courier import custody
from gateway.channels.lgwan_asp.server import PortalServer
from gateway.channels.vpn_sftp.server import SftpServer
from gateway.core.records.reader import scan
from gateway.crypto import age
from gateway.errors import Forbidden, GatewayError, Invalid
from gateway.findings import Kind
from gateway.ledger.log import Actor
from gateway.operations.sshkeys import add_key
from gateway.retention import deletion
from gateway.service import Gateway
from gateway.simulate import logged
from gateway.simulate.command_line import CommandLine
from gateway.simulate.opensshd import OpenSshd
from gateway.simulate.portal_client import PortalClient
from gateway.simulate.scenario import Scenario, Step
from gateway.store.registry import get_approval, get_profile


class Desks:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.scenario: Scenario | None = None
        self.work = gw.home.root / "contractors"
        self.sftp: SftpServer | None = None
        self.portal: PortalServer | None = None
        self.lgwan: PortalClient | None = None  # the people's side of the portal
        self.keys: dict[str, paramiko.Ed25519Key] = {}
        self.cli = CommandLine(gw)  # an operator at the gateway's command line
        self.sshd: OpenSshd | None = None  # the contractor's own SFTP server, started by a `push` step
        self.pinned: set[str] = set()  # organisations whose server `gateway org pin-host` pinned

    def __enter__(self) -> "Desks":
        """Both servers on 127.0.0.1 and free ports, on the simulation's Gateway and so its clock."""
        try:
            self.sftp = SftpServer(self.gw, "127.0.0.1", 0).start()
            self.portal = PortalServer(self.gw, "127.0.0.1", 0).start()
        except BaseException:
            self.__exit__()
            raise
        self.lgwan = PortalClient(self.gw, f"https://127.0.0.1:{self.portal.port}", self.gw.home.root / "terminals")
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.lgwan is not None:
                self.lgwan.close()
            if self.portal is not None:
                self.portal.stop()
        finally:
            try:
                if self.sftp is not None:
                    self.sftp.stop()
            finally:
                if self.sshd is not None:
                    self.sshd.stop()

    def enrol(self, scenario: Scenario) -> None:
        """Every designated handler gets an SSH key for the VPN line, registered as an operator
        would. The scenario's staff and the contractors' handlers become portal users at their own
        terminals; anyone else (a subcontractor's handler, an account a fault adds) on first use."""
        assert self.lgwan is not None
        self.scenario = scenario
        self.work.mkdir(mode=0o700, exist_ok=True)
        with self.gw.unit() as session:
            recipients = [r for a in scenario.approvals for r in get_approval(session, a).recipients]
        for login in sorted({h.login for r in recipients for x in (r, *r.subcontractors) for h in x.handlers}):
            self._ssh_key(login)
        portal = {h.login for r in recipients for h in r.handlers}
        for login in sorted(portal | {u.login for u in scenario.users if u.role in ("staff", "contractor")}):
            self.lgwan.enrol(login)

    def _ssh_key(self, login: str) -> paramiko.Ed25519Key:
        """`login`'s key for the VPN line: made and registered on first use (an account a fault
        adds after the set-up gets one too; being able to log in does not make it a handler)."""
        if login not in self.keys:
            key = _ed25519()
            add_key(self.gw, login, f"{key.get_name()} {key.get_base64()}", Actor(user="simulator", role="admin"))
            self.keys[login] = key
        return self.keys[login]

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

    def _sftp_get(self, login: str, transfer_id: str, target: Path) -> None:
        """The handler's SFTP client over a real socket, as the VPN line is used."""
        assert self.sftp is not None
        sock = socket.create_connection(("127.0.0.1", self.sftp.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport = paramiko.Transport(sock)
        try:
            transport.connect(hostkey=self.sftp.host_key, username=login, pkey=self._ssh_key(login))
            client = paramiko.SFTPClient.from_transport(transport)
            assert client is not None
            try:
                client.get(f"/outbox/{transfer_id}.age", str(target))
            except OSError as err:
                raise Invalid("SFTP での受け取りが拒否されました。", f"the SFTP download was refused: {err}") \
                    from None
        finally:
            transport.close()

    def failed_logins(self, login: str, attempts: int) -> None:
        """Someone tries a key that is not theirs, again and again, until the source is locked."""
        assert self.sftp is not None
        wrong = _ed25519()
        for _ in range(attempts):
            # From another machine than the handler's (another loopback address): the lock is per source.
            sock = socket.create_connection(("127.0.0.1", self.sftp.port), source_address=("127.0.0.2", 0))
            transport = paramiko.Transport(sock)
            try:
                transport.connect(hostkey=self.sftp.host_key, username=login, pkey=wrong)
            except paramiko.AuthenticationException:
                pass
            finally:
                transport.close()

    # -- steps -----------------------------------------------------------------------------

    def send(self, step: Step, source: Path) -> dict[str, Any]:
        """Staff upload an `lgwan-asp` hand-over on the portal; other channels' sends start at the
        gateway's command line (the portal is the LGWAN-ASP channel: the core refuses a hand-over
        uploaded there for a profile of another channel as `unapproved-channel`)."""
        assert self.lgwan is not None
        with self.gw.unit() as session:
            profile = get_profile(session, step.get("profile"))
        delivery = step.get("notice", "registered-mail")
        if profile.channel == "lgwan-asp":
            a = self.lgwan.send(self.staff(step), source, approval=step.get("approval") or "", profile=profile.id,
                                recipient=step.get("recipient") or "", password_delivery=delivery)
            return self._result(step, a["transfer"], profile.channel, records=a["records"], sha256=a["sha256"],
                                passphrase=a["passphrase"])
        sent = self.cli("send", str(source), "--approval", str(step.get("approval")), "--profile", profile.id,
                        "--recipient", str(step.get("recipient")), "--password-delivery", delivery,
                        "--as", self.staff(step), "--json").json()
        return self._sent(step, sent, profile.channel)

    def relay(self, step: Step, parent: dict[str, Any]) -> dict[str, Any]:
        """The contractor forwards the plaintext it received to its approved subcontractor, at the
        command line as a relay of the hand-over it received (`--relay-of`)."""
        with self.gw.unit() as session:
            profile = get_profile(session, step.get("profile", "subcontract-courier"))
        sent = self.cli("send", parent["plaintext"], "--approval", parent["approval"], "--profile", profile.id,
                        "--recipient", str(step.get("recipient")), "--password-delivery", step.get("notice", "hand"),
                        "--relay-of", parent["transfer"], "--as", self.handler(step, parent), "--json").json()
        return self._sent(step, sent, profile.channel, sender=parent["recipient"])

    def _sent(self, step: Step, sent: dict[str, Any], channel: str, sender: str | None = None) -> dict[str, Any]:
        return self._result(step, sent["transfer"], channel, records=sent["records"], sha256=sent["sha256"],
                            passphrase=sent["passphrase"], sender=sender)

    def push(self, step: Step, t: dict[str, Any]) -> dict[str, Any]:
        """City staff push a `vpn-sftp` package to the contractor's own SFTP server (a real OpenSSH
        sshd, started on first use), whose host key an operator pinned first."""
        if self.sshd is None:
            root = self.gw.home.root.parent / "contractor-sshd"
            (root / "incoming").mkdir(parents=True, exist_ok=True)
            self.sshd = OpenSshd.create(root).start()
        org = str(t["recipient"])
        if org not in self.pinned:
            pinned = self.cli("org", "pin-host", org, "--host", "127.0.0.1", "--port", str(self.sshd.port),
                              "--host-key", f"{self.sshd.host_key}.pub", "--user", self.sshd.user,
                              "--dir", str(self.sshd.root / "incoming"))
            # The contractor adds the gateway's push key, printed last, to its authorized_keys.
            self.sshd.authorize(pinned.stdout.strip().splitlines()[-1])
            self.pinned.add(org)
        done = self.cli("push", t["transfer"], "--as", self.staff(step), "--json").json()
        landed = self.sshd.root / "incoming" / f"{t['transfer']}.age"
        if not landed.is_file() or _sha256(landed) != done["sha256"]:
            raise Invalid("送付先に届いたパッケージが送信したものと一致しません。",
                               f"the package at {landed} is not the one pushed.")
        t["pushed"] = done["destination"]
        return done

    def _result(self, step: Step, transfer: str, channel: str, *, records: int, sha256: str, passphrase: str,
                sender: str | None = None) -> dict[str, Any]:
        return {
            "transfer": transfer, "approval": step.get("approval") or self._approval_of(transfer),
            "recipient": step.get("recipient"), "channel": channel, "records": records, "sha256": sha256,
            "passphrase": passphrase, "sender": sender,
        }

    def _approval_of(self, transfer_id: str) -> str:
        from gateway.store import models as m

        with self.gw.unit() as session:
            row = session.get(m.Transfer, transfer_id)
            assert row is not None
            return row.approval_id

    def _refusal_since(self, seq: int) -> GatewayError:
        """An SFTP refusal: the protocol carries only a status code, so the reason and its kinds
        are read where the gateway wrote them, in its log."""
        refused = logged.entries_since(self.gw, seq, ("refused",))
        entry = refused[-1] if refused else {"kinds": [], "reason": "refused"}
        return Forbidden("SFTP サーバーが拒否しました。", entry["reason"] or "refused",
                         kinds=[Kind(k) for k in entry["kinds"] or ()])

    def notice(self, step: Step, t: dict[str, Any]) -> None:
        """Staff record the notice's dispatch on the portal, whatever channel the data took."""
        assert self.lgwan is not None
        self.lgwan.dispatch(self.staff(step), t["transfer"], method=step.get("method", "registered-mail"))

    def download(self, step: Step, t: dict[str, Any]) -> None:
        assert self.lgwan is not None
        login = self.handler(step, t)
        package = self.work / f"{t['transfer']}.{login}.age"
        if t["channel"] == "courier" and not step.get("expect"):
            # Courier packages arrive on media: the receiver reads them from the disc images.
            self.cli("courier", "extract", *t["media"], "-o", str(package), "--json")
        elif t["channel"] == "vpn-sftp":
            before = logged.last_seq(self.gw)
            try:
                self._sftp_get(login, t["transfer"], package)
            except GatewayError:
                # The server refused; the reason (and its kind) is what it logged.
                raise self._refusal_since(before) from None
        elif t["channel"] == "lgwan-asp":
            self.lgwan.download(login, t["transfer"], package)
        else:
            # An access to courier data that must be refused: there is no disc to read it from.
            self.cli("fetch", t["transfer"], "-o", str(package), "--as", login, "--json")
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
        if t["channel"] == "lgwan-asp":
            assert self.lgwan is not None
            self.lgwan.receipt(self.handler(step, t), t["transfer"], records=count, sha256=sha256)
            return
        # A mismatch is recorded as one, and the command says so with exit 1.
        receipt = self.cli("receipt", t["transfer"], "--records", str(count), "--sha256", sha256,
                           "--as", self.handler(step, t), "--json", ok=(0, 1)).json()
        if not receipt["matches"] and not step.get("wrong_checksum"):
            raise Invalid("受領確認の件数または SHA-256 が送付時と一致しません。",
                               f"the receipt of {t['transfer']} does not match what was sent.")

    def courier(self, step: Step, t: dict[str, Any]) -> None:
        """Media written, media and notice handed over (確認書), returned, or reported lost."""
        sender = self.sender_of(t)
        receiver = self.handler(Step("courier", timedelta(0), {}), t)
        what = step.get("do")
        item = t.get("serial") if step.get("item", "media") == "media" else custody.notice_id(t["transfer"])
        if what == "write":
            serial = step.get("serial") or f"M-{t['transfer'][-6:]}"
            args = ["courier", "write", t["transfer"], "--media", step.get("media", "cdr"), "--serial", serial,
                    "-o", str(self.work / "media"), "--as", sender, "--json"]
            if step.get("cabinet"):
                args += ["--cabinet", step.get("cabinet")]
            written = self.cli(*args).json()
            t["serial"], t["media"] = serial, written["paths"]
            return
        if what == "lost":
            self.cli("courier", "lost", str(item), "--place", step.get("place", "配送途中"),
                     "--circumstances", "受領確認の際に所在不明と判明", "--as", receiver, "--json")
            return
        giver, taker = (sender, receiver) if what == "handover" else (receiver, sender)
        cabinet = step.get("cabinet", f"{'媒体' if step.get('item', 'media') == 'media' else '通知書'}保管庫")
        args = ["courier", "handover" if what == "handover" else "return", str(item), "--to", taker,
                "--from", giver, "--place", step.get("place", "受付窓口"), "--quantity", "1", "--cabinet", cabinet,
                "--receipt-no", f"R-{item}-{what}", "--as", giver, "--json"]
        if step.get("run"):
            args += ["--run", step.get("run")]
        self.cli(*args)

    def sender_of(self, t: dict[str, Any]) -> str:
        from gateway.store import models as m

        with self.gw.unit() as session:
            row = session.get(m.Transfer, t["transfer"])
            assert row is not None
            user = session.get(m.User, row.sender_user_id)
            assert user is not None
            return user.login

    def delete(self, step: Step, t: dict[str, Any]) -> None:
        """Deletion request, the city's approval, the erasure certificate (the contractor's copies).
        For an `lgwan-asp` hand-over all three are filed on the portal, the decision by city staff."""
        handler = self.handler(step, t)
        now = self.gw.clock.now()
        for leftover in self.work.glob(f"{t['transfer']}*"):
            leftover.unlink()
        request = deletion.DeletionRequest(
            items="宛名データ一式（受領ファイル・作業用データ）", media="作業サーバー", quantity=1,
            method="暗号消去および上書き", planned_date=(now + timedelta(days=1)).date())
        certificate = deletion.ErasureCertificate(
            erased_at=now, media_manufacturer="（作業サーバー）", media_model="SSD", media_serial_or_location="作業室",
            sanitisation="purge", technique="暗号消去", tool="gateway-sim 1.0", verification="読み出し不能を確認",
            sanitised_by=deletion.Person("取扱責任者", "取扱責任者"), verified_by=deletion.Person("情報管理者", "管理者"),
            place="受託者作業室")
        # The city decides, for its contractor's and its subcontractor's copies alike.
        staff = self.staff(Step("delete", timedelta(0), {}))
        if t["channel"] == "lgwan-asp":
            assert self.lgwan is not None
            deletion_id = self.lgwan.request_deletion(
                handler, t["transfer"], items=request.items, media=request.media, quantity=request.quantity,
                method=request.method, planned_date=request.planned_date)
            self.lgwan.decide(staff, deletion_id, approve=True, witness=step.get("witness"))
            self.lgwan.certify(handler, deletion_id, dataclasses.asdict(certificate))
            return
        deletion_id = self.cli(
            "deletion", "request", t["transfer"], "--items", request.items, "--media", request.media,
            "--quantity", str(request.quantity), "--method", request.method,
            "--planned-date", request.planned_date.isoformat(), "--as", handler, "--json").json()["deletion"]
        decide = ["deletion", "decide", deletion_id, "--approve", "--as", staff, "--json"]
        if step.get("witness"):
            decide += ["--witness", str(step.get("witness"))]
        self.cli(*decide)
        c = certificate
        self.cli("deletion", "certify", deletion_id, "--erased-at", c.erased_at.isoformat(),
                 "--media-manufacturer", c.media_manufacturer, "--media-model", c.media_model,
                 "--media-serial", c.media_serial_or_location, "--sanitisation", c.sanitisation,
                 "--technique", c.technique, "--tool", c.tool, "--verification", c.verification,
                 "--sanitised-by", f"{c.sanitised_by.name},{c.sanitised_by.title}",
                 "--verified-by", f"{c.verified_by.name},{c.verified_by.title}", "--place", c.place,
                 "--as", handler, "--json")


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _ed25519() -> paramiko.Ed25519Key:
    import io

    from cryptography.hazmat.primitives import serialization

    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
    return paramiko.Ed25519Key.from_private_key(io.StringIO(pem.decode()))
