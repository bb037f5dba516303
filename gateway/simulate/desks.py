"""How the people of a scenario reach the gateway: over the network wherever a channel has one,
and at the gateway's command line, as named operators, wherever a city operator would type it.

- Contractors' handlers use `gateway-client` (`contractors.py`), on their own machines with their
  own keys: over the LGWAN-ASP portal's API from their terminal for `lgwan-asp` hand-overs, over
  the VPN line (SFTP, their SSH key) otherwise. They download and decrypt in one pass, and sign
  every receipt, deletion request and erasure certificate with their SSH key (SSHSIG). Courier
  packages are read from the media images (`gateway courier extract`, the receiver's file tool),
  and their receipts filed over the VPN line. The brute-force fault guesses at an SFTP login.
- City staff use the portal (mutual TLS, JSON API `/api/v1`, `portal_client.py`): `lgwan-asp`
  sends, every password notice's dispatch, and the decisions on `lgwan-asp` deletion requests.
- City staff at the gateway's command line (`command_line.py`: the `gateway` entry point
  in-process, as named operators: each staff member's operating-system user is mapped to their
  account by `gateway operator add`), for what has no network way in:
  - sends of `vpn-sftp` and courier hand-overs (`gateway send`): the portal *is* the LGWAN-ASP
    channel, and the core refuses a hand-over uploaded there for another channel's profile;
  - pushes to the contractor's own SFTP server (`gateway push`), after the administrator pinned
    its host key (`gateway org pin-host`; a real OpenSSH sshd, `opensshd.py`);
  - the decisions on other deletion requests (`gateway deletion decide`);
  - media written, handed over, returned or reported lost (`gateway courier ...`); and what a
    contractor hands in on paper, entered on its behalf with the paper named (`--as PERSON
    --paper-ref ...`): the relay request to its subcontractor (`gateway send --relay-of`), the
    confirmation records (確認書) of media it returns or loses.

What still calls the core directly:
- a security officer's declaration of an outside hand-over (`declare`): no `gateway` command
  records one;
- the retention scheduler: `gateway serve` runs it in-process too, at each deadline;
- the simulation's own set-up before the first step (approvals, accounts, handlers' SSH keys) and
  its final export of the evidence bundle: commands exist for these, but they are the rehearsal's
  frame, acted by the `simulator` account, not steps of the scenario's people.
"""
from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import paramiko
from cryptography.hazmat.primitives.asymmetric import ed25519

from gateway.channels.courier import custody
from gateway.channels.lgwan_asp.server import PortalServer
from gateway.channels.vpn_sftp.server import SftpServer
from gateway.client import acts
from gateway.errors import Forbidden, GatewayError, Invalid
from gateway.findings import Kind
from gateway.service import Gateway
from gateway.simulate import logged
from gateway.simulate.command_line import CommandLine
from gateway.simulate.contractors import Contractors
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
        self.lgwan: PortalClient | None = None  # the city staff's side of the portal
        self.contractors: Contractors | None = None  # the handlers' gateway-client
        self.cli = CommandLine(gw)  # city operators at the gateway's command line
        self.operators: set[str] = set()  # staff mapped to an OS user of their own
        self.sshd: OpenSshd | None = None  # the contractor's own SFTP server, started by a `push` step
        self.pinned: set[str] = set()  # organisations whose server `gateway org pin-host` pinned

    def __enter__(self) -> Desks:
        """Both servers on 127.0.0.1 and free ports, on the simulation's Gateway and so its clock."""
        try:
            self.sftp = SftpServer(self.gw, "127.0.0.1", 0).start()
            self.portal = PortalServer(self.gw, "127.0.0.1", 0).start()
        except BaseException:
            self.__exit__()
            raise
        url = f"https://127.0.0.1:{self.portal.port}"
        self.lgwan = PortalClient(self.gw, url, self.gw.home.root / "terminals")
        self.contractors = Contractors(self.gw, self.work, self.lgwan, url, self.sftp.port, self.sftp.host_key)
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
        """Every designated handler gets an SSH key on their machine, registered as the city does
        (for the VPN line and for signing). The scenario's staff become named operators of the
        gateway's command line and, like the contractors' handlers, portal users at their own
        terminals; anyone else (a subcontractor's handler, an account a fault adds) on first use."""
        assert self.lgwan is not None and self.contractors is not None
        self.scenario = scenario
        self.work.mkdir(mode=0o700, exist_ok=True)
        with self.gw.unit() as session:
            recipients = [r for a in scenario.approvals for r in get_approval(session, a).recipients]
        for login in sorted({h.login for r in recipients for x in (r, *r.subcontractors) for h in x.handlers}):
            self.contractors.key(login)
        for u in scenario.users:
            if u.role == "staff":
                self.cli("operator", "add", u.login, "--login", u.login)
                self.operators.add(u.login)
        portal = {h.login for r in recipients for h in r.handlers}
        for login in sorted(portal | {u.login for u in scenario.users if u.role in ("staff", "contractor")}):
            self.lgwan.enrol(login)

    def enrol_handler(self, login: str) -> None:
        """A handler designated after the start (a successor): a key and a portal terminal."""
        assert self.lgwan is not None and self.contractors is not None
        self.contractors.key(login)
        self.lgwan.enrol(login)

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

    def act(self, person: str, *args: str, paper: str, ok: tuple[int, ...] = (0,)) -> Any:
        """`gateway ARGS` by `person` if they operate the gateway; else city staff enter what
        `person` handed in on paper (`--as person --paper-ref paper`)."""
        if person in self.operators:
            return self.cli(*args, as_user=person, ok=ok)
        staff = self.staff(Step("act", timedelta(0), {}))
        return self.cli(*args, "--as", person, "--paper-ref", paper, as_user=staff, ok=ok)

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
        year = step.get("record_fiscal_year")
        # A sender who asks for a second check or limits the downloads does so at the command line.
        extra = [*(["--second-check"] if step.get("second_check") else []),
                 *(["--max-downloads", str(step.get("max_downloads"))] if step.get("max_downloads") else [])]
        if extra:
            sent = self.cli("send", str(source), "--approval", str(step.get("approval")), "--profile", profile.id,
                            "--recipient", str(step.get("recipient")), "--password-delivery", delivery,
                            *extra, *(["--record-fiscal-year", str(year)] if year is not None else []), "--json",
                            as_user=self.staff(step)).json()
            return self._sent(step, sent, profile.channel)
        if profile.channel == "lgwan-asp":
            a = self.lgwan.send(self.staff(step), source, approval=step.get("approval") or "", profile=profile.id,
                                recipient=step.get("recipient") or "", password_delivery=delivery,
                                record_fiscal_year=year)
            return self._result(step, a["transfer"], profile.channel, records=a["records"], sha256=a["sha256"],
                                passphrase=a["passphrase"])
        sent = self.cli("send", str(source), "--approval", str(step.get("approval")), "--profile", profile.id,
                        "--recipient", str(step.get("recipient")), "--password-delivery", delivery, "--json",
                        *(["--record-fiscal-year", str(year)] if year is not None else []),
                        as_user=self.staff(step)).json()
        return self._sent(step, sent, profile.channel)

    def relay(self, step: Step, parent: dict[str, Any]) -> dict[str, Any]:
        """The contractor forwards the plaintext it received to its approved subcontractor: its
        written relay request, entered by city staff as a relay of the hand-over (`--relay-of`)."""
        with self.gw.unit() as session:
            profile = get_profile(session, step.get("profile", "subcontract-courier"))
        sent = self.act(self.handler(step, parent), "send", parent["plaintext"], "--approval", parent["approval"],
                        "--profile", profile.id, "--recipient", str(step.get("recipient")), "--password-delivery",
                        step.get("notice", "hand"), "--relay-of", parent["transfer"], "--json",
                        paper=f"再委託先への引渡し依頼書 {parent['transfer']}").json()
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
        done = self.cli("push", t["transfer"], "--json", as_user=self.staff(step)).json()
        landed = self.sshd.root / "incoming" / f"{t['transfer']}.age"
        if not landed.is_file() or _sha256(landed) != done["sha256"]:
            raise Invalid("送付先に届いたパッケージが送信したものと一致しません。",
                               f"the package at {landed} is not the one pushed.")
        t["pushed"] = done["destination"]
        return done

    def _result(self, step: Step, transfer: str, channel: str, *, records: int, sha256: str, passphrase: str,
                sender: str | None = None) -> dict[str, Any]:
        return {
            "transfer": transfer, "sent_at": self.gw.clock.now(), "approval": step.get("approval") or self._approval_of(transfer),
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
        entry: dict[str, Any] = refused[-1] if refused else {"kinds": [], "reason": "refused"}
        return Forbidden("SFTP サーバーが拒否しました。", entry["reason"] or "refused",
                         kinds=[Kind(k) for k in entry["kinds"] or ()])

    def notice(self, step: Step, t: dict[str, Any]) -> None:
        """Staff record the notice's dispatch on the portal, whatever channel the data took."""
        assert self.lgwan is not None
        self.lgwan.dispatch(self.staff(step), t["transfer"], method=step.get("method", "registered-mail"))

    def download(self, step: Step, t: dict[str, Any]) -> None:
        """The handler's gateway-client downloads, decrypts, counts and hashes in one pass (the
        passphrase from the notice); courier packages are read from the media images instead."""
        assert self.contractors is not None
        login = self.handler(step, t)
        package = None
        if t["channel"] == "courier" and not step.get("expect"):
            package = self.work / f"{t['transfer']}.{login}.age"
            self.cli("courier", "extract", *t["media"], "-o", str(package), "--json")
        before = logged.last_seq(self.gw)
        try:
            got = self.contractors.receive(login, t, package)
        except GatewayError as err:
            if err.kinds:
                raise
            # SFTP carries only a status: the reason (and its kind) is what the gateway logged.
            raise self._refusal_since(before) from None
        t.update(plaintext=str(got.output), records=got.records, plain_sha256=got.sha256,
                 package_sha256_seen=got.package_sha256, downloaded_at=self.gw.clock.now())

    def confirm(self, step: Step, t: dict[str, Any]) -> None:
        """The handler files the receipt it signed: the count and SHA-256 its client found."""
        assert self.contractors is not None
        if step.get("skip_receipt"):
            return  # the contractor decrypts and gets to work, but never confirms receipt
        sha256 = t["plain_sha256"]
        if step.get("wrong_checksum"):
            sha256 = ("0" if sha256[0] != "0" else "1") + sha256[1:]
        at = self.gw.clock.now()
        if step.get("dated_before_download"):
            # A receipt dated before the package was sent (and so before any download of it).
            at = t["sent_at"] - timedelta(minutes=1)
        answer = self.contractors.confirm(self.handler(step, t), t, sha256=sha256, at=at)
        if not answer.get("matches") and not step.get("wrong_checksum"):
            raise Invalid("受領確認の件数または SHA-256 が送付時と一致しません。",
                          f"the receipt of {t['transfer']} does not match what was sent.")

    def courier(self, step: Step, t: dict[str, Any]) -> None:
        """Media written, media and notice handed over (確認書), returned, or reported lost: by the
        city's staff at the command line; what the contractor hands over or reports, it signs on
        the confirmation record, which staff enter on its behalf."""
        sender = self.sender_of(t)
        receiver = self.handler(Step("courier", timedelta(0), {}), t)
        what = step.get("do")
        item = t.get("serial") if step.get("item", "media") == "media" else custody.notice_id(t["transfer"])
        if what == "write":
            serial = step.get("serial") or f"M-{t['transfer'][-6:]}"
            args = ["courier", "write", t["transfer"], "--media", step.get("media", "cdr"), "--serial", serial,
                    "-o", str(self.work / "media"), "--json"]
            if step.get("cabinet"):
                args += ["--cabinet", step.get("cabinet")]
            written = self.act(sender, *args, paper=f"媒体作成依頼 {t['transfer']}").json()
            t["serial"], t["media"] = serial, written["paths"]
            return
        if what == "lost":
            self.act(receiver, "courier", "lost", str(item), "--place", step.get("place", "配送途中"),
                     "--circumstances", "受領確認の際に所在不明と判明", "--json", paper=f"事故報告書 {item}")
            return
        giver, taker = (sender, receiver) if what == "handover" else (receiver, sender)
        cabinet = step.get("cabinet", f"{'媒体' if step.get('item', 'media') == 'media' else '通知書'}保管庫")
        args = ["courier", "handover" if what == "handover" else "return", str(item), "--to", taker,
                "--from", giver, "--place", step.get("place", "受付窓口"), "--quantity", "1", "--cabinet", cabinet,
                "--receipt-no", f"R-{item}-{what}", "--json"]
        if step.get("run"):
            args += ["--run", step.get("run")]
        self.act(giver, *args, paper=f"確認書 R-{item}-{what}")

    def deliver(self, step: Step, t: dict[str, Any]) -> dict[str, Any]:
        """The contractor delivers the sealed printed notices; the city's staff member who receives
        them writes the 確認書 (date, handler, content, quantity), as seed 004 has it."""
        staff = self.sender_of(t)
        handler = self.handler(step, t)
        args = ["delivery", "record", t["transfer"], "--from", handler, "--to", staff,
                "--place", step.get("place", "区役所 受付"), "--content", step.get("content", "封入封緘済み通知書"),
                "--quantity", str(step.get("quantity", t.get("records", 1))), "--json"]
        if step.get("partial"):
            args.append("--partial")
        return self.cli(*args, as_user=staff).json()

    def sender_of(self, t: dict[str, Any]) -> str:
        from gateway.store import models as m

        with self.gw.unit() as session:
            row = session.get(m.Transfer, t["transfer"])
            assert row is not None
            user = session.get(m.User, row.sender_user_id)
            assert user is not None
            return user.login

    def delete(self, step: Step, t: dict[str, Any]) -> None:
        """The handler's signed deletion request, the city's approval (on the portal for an
        `lgwan-asp` hand-over, else at the command line), and the handler's signed certificate."""
        assert self.contractors is not None
        handler = self.handler(step, t)
        now = self.gw.clock.now()
        for leftover in self.work.glob(f"{t['transfer']}*"):
            leftover.unlink()
        with self.gw.unit() as session:
            listed = get_approval(session, t["approval"]).retention.erasure_locations
        deletion_id = self.contractors.request_deletion(
            handler, t, items="宛名データ一式（受領ファイル・作業用データ）",
            media="、".join(listed) if listed else "作業サーバー", quantity=max(1, len(listed)),
            method="暗号消去および上書き", planned_date=(now + timedelta(days=1)).date())
        # The city decides, for its contractor's and its subcontractor's copies alike.
        staff = self.staff(Step("delete", timedelta(0), {}))
        if t["channel"] == "lgwan-asp":
            assert self.lgwan is not None
            self.lgwan.decide(staff, deletion_id, approve=True, witness=step.get("witness"))
        else:
            decide = ["deletion", "decide", deletion_id, "--approve", "--json"]
            if step.get("witness"):
                decide += ["--witness", str(step.get("witness"))]
            self.cli(*decide, as_user=staff)
        with self.gw.unit() as session:
            places = get_approval(session, t["approval"]).retention.erasure_locations
        # One request; where the approval names several places of erasure, one certificate each.
        # `places` in the step: a contractor that certifies only some of them (a test of the rule).
        for where in step.get("places", places) or ("作業室",):
            self.contractors.certify(handler, t, deletion_id, acts.Certificate(
                erased_at=now, media_manufacturer="（作業サーバー）", media_model="SSD", media_serial_or_location=where,
                sanitisation="purge", technique="暗号消去", tool="gateway-sim 1.0", verification="読み出し不能を確認",
                sanitised_by={"name": "取扱責任者", "title": "取扱責任者"},
                verified_by={"name": "情報管理者", "title": "管理者"}, place="受託者作業室"))
        if t.get("sender"):
            # A subcontractor's certificate goes to 甲 and 乙: the contractor that relayed the data
            # records that it received and accepts it (seed 003, 再委託用特記事項 13).
            with self.gw.unit() as session:
                relayed_by = get_approval(session, t["approval"]).handlers_of(t["sender"])
            contractor = next(h.login for h in relayed_by if h.role == "responsible")
            self.act(contractor, "deletion", "acknowledge", deletion_id, "--json",
                     paper=f"再委託先消去証明書 受領書 {deletion_id}")


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
