"""Notifications by e-mail (issue 22, item 3) through a real SMTP server the test starts
(aiosmtpd, STARTTLS required, its certificate from a CA of the test's own): due and overdue
deadlines to the role mailboxes, refusals to the security officers, each once, never in clear,
never with personal data or a passphrase; sent by `gateway serve` on its own as well."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from gateway.home import Home
from gateway.service import Gateway
from gateway.store import models as m
from tests.conftest import run_gateway
from tests.helpers import send
from tests.service.conftest import start
from tests.service.pki import _free_port, _pki

MAILBOXES = {"kurume.staff": "kikaku@city.kurume.example", "chikugo-print.contractor": "desk@chikugo.example",
             "kurume.security-officer": "security@city.kurume.example"}


class Inbox:
    def __init__(self) -> None:
        self.messages: list[dict] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's name)
        mail = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.messages.append({"from": envelope.mail_from, "to": sorted(envelope.rcpt_tos), "tls": session.ssl is not None,
                              "subject": str(mail["Subject"]), "body": mail.get_content(), "raw": mail})
        return "250 OK"

    def wait(self, subject: str, timeout: float = 30.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := [x for x in self.messages if subject in x["subject"]]:
                return found
            time.sleep(0.1)
        return []


@pytest.fixture
def smtp(tmp_path):
    """A real SMTP server on 127.0.0.1 that takes mail only after STARTTLS."""
    cafile, context = _pki(tmp_path)
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port(), tls_context=context, require_starttls=True)
    controller.start()
    inbox.port, inbox.cafile = controller.port, cafile  # type: ignore[attr-defined]
    yield inbox
    controller.stop()


def configure(home, port: int, cafile, interval: int = 300) -> None:
    to = "\n".join(f'"{k}" = ["{v}"]' for k, v in MAILBOXES.items())
    with open(home / "gateway.toml", "a", encoding="utf-8") as f:
        f.write(f'\n[mail]\nhost = "localhost"\nport = {port}\nstarttls = true\ncafile = "{cafile}"\n'
                f'sender = "gateway@city.kurume.example"\ninterval_seconds = {interval}\n\n[mail.to]\n{to}\n')


def receipt_due(home, transfer: str) -> datetime:
    gw = Gateway.open(Home.resolve(str(home)))
    with gw.read() as s:
        due = s.get(m.Transfer, transfer).receipt_due
    gw.engine.dispose()
    return due


def send_due(monkeypatch, at: datetime, check: bool = True) -> dict:
    monkeypatch.setenv("GATEWAY_FAKE_NOW", at.isoformat())
    proc = run_gateway("mail", "send-due", "--json", check=check)
    return json.loads(proc.stdout)


def test_due_and_overdue_mailed_once_to_the_role_mailboxes_over_starttls(kurume, home, tmp_path, smtp, monkeypatch):
    sent = json.loads(send(kurume, tmp_path).stdout)
    configure(home, smtp.port, smtp.cafile)
    due = receipt_due(home, sent["transfer"])
    counts = send_due(monkeypatch, due - timedelta(days=1))
    assert counts["sent"] >= 1 and counts["failed"] == 0
    [receipt] = [x for x in smtp.messages if "Receipt due" in x["subject"]]
    assert receipt["tls"] and receipt["from"] == "gateway@city.kurume.example"
    assert receipt["to"] == sorted([MAILBOXES["kurume.staff"], MAILBOXES["chikugo-print.contractor"]])
    assert sent["transfer"] in receipt["subject"] and receipt["subject"].startswith("【受領確認の期限】")
    body = receipt["body"]
    assert body.index("受領確認") < body.index("must be confirmed")  # Japanese first
    assert receipt["raw"]["Auto-Submitted"] == "auto-generated"
    # Nothing personal, nothing secret: no passphrase, no name or address from the file.
    residents = kurume.read_bytes().decode("cp932").splitlines()[1:6]
    for line in residents:
        for cell in line.split(",")[:3]:
            assert len(cell) < 3 or cell not in body, cell
    assert sent["passphrase"] not in body and sent["passphrase"].replace("-", "") not in body

    before = len(smtp.messages)
    assert send_due(monkeypatch, due - timedelta(days=1))["sent"] == 0  # deduplicated
    assert len(smtp.messages) == before
    assert send_due(monkeypatch, due + timedelta(hours=1))["sent"] >= 1
    assert any("Receipt OVERDUE" in x["subject"] for x in smtp.messages)
    logged = json.loads(run_gateway("log", "--json", "--action", "mail.send").stdout)
    assert len(logged) == len(smtp.messages) and all(e["channel"] == "system" for e in logged)
    assert {e["reason"].split()[0].split(":")[0] for e in logged} >= {"receipt-due", "receipt-overdue"}


def test_refusals_reach_the_officers_and_serve_mails_on_its_own(kurume, home, tmp_path, smtp, monkeypatch):
    sent = json.loads(send(kurume, tmp_path).stdout)
    configure(home, smtp.port, smtp.cafile, interval=1)
    run_gateway("fetch", sent["transfer"], "-o", str(tmp_path / "x.age"), "--as", "x.outsider", "--paper-ref", "書面 1", check=False)
    service = start(home, tmp_path, "--sftp-port", "0")
    try:
        officers = smtp.wait("refused actions")
        if not officers:
            service.proc.kill()
            raise AssertionError((smtp.messages, service.proc.communicate()))
        assert officers and officers[0]["to"] == [MAILBOXES["kurume.security-officer"]] and officers[0]["tls"]
        assert "transfer.download (non-designated-handler): 1" in officers[0]["body"]
        assert "x.outsider" not in officers[0]["body"]  # counts and log numbers, not who
    finally:
        code, oplog, rest = service.stop()
        service.notify.close()
    assert code == 0, rest
    assert any(line["msg"] == "mailing" for line in oplog)


def test_a_relay_without_starttls_gets_nothing(kurume, home, tmp_path, monkeypatch):
    inbox = Inbox()
    plain = Controller(inbox, hostname="127.0.0.1", port=_free_port())  # no TLS at all
    plain.start()
    try:
        sent = json.loads(send(kurume, tmp_path).stdout)
        configure(home, plain.port, tmp_path / "none.pem")
        due = receipt_due(home, sent["transfer"])
        monkeypatch.setenv("GATEWAY_FAKE_NOW", (due - timedelta(days=1)).isoformat())
        proc = run_gateway("mail", "send-due", "--json", check=False)
        assert proc.returncode == 1 and json.loads(proc.stdout)["failed"] >= 1
        assert inbox.messages == [] and "Traceback" not in proc.stderr
    finally:
        plain.stop()
    assert json.loads(run_gateway("log", "--json", "--action", "mail.send").stdout) == []


def test_media_not_back_are_mailed_as_due_then_overdue(home, tmp_path, smtp, monkeypatch):
    """Courier media (Shinjuku's NHI CD-R): a reminder before the return deadline to the ward's
    staff and the printer holding the disc, once; past it, OVERDUE, also to the security officers."""
    from tests.conftest import APPROVALS
    from tests.courier.conftest import NHI, nhi_file

    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    monkeypatch.setenv("GATEWAY_FAKE_NOW", "2020-06-01T09:00:00+09:00")
    paper = ("--as", "w.kato", "--paper-ref", "書面 1")
    run_gateway("approval", "add", str(APPROVALS / f"{NHI}.toml"))
    run_gateway("user", "add", "w.kato", "--org", "shinjuku", "--role", "staff", "--name", "加藤 和子")
    sent = json.loads(run_gateway("send", str(nhi_file(tmp_path)), "--approval", NHI, "--recipient", "kandagawa-print",
                                  "--profile", "courier-cdr", "--password-delivery", "hand", "--notice",
                                  str(tmp_path / "notice.html"), *paper, "--json").stdout)
    run_gateway("courier", "write", sent["transfer"], "--media", "cdr", "--serial", "NHI-CDR-0601", "-o",
                str(tmp_path / "media"), "--cabinet", "医療保険年金課 媒体キャビネット", *paper)
    monkeypatch.setenv("GATEWAY_FAKE_NOW", "2020-06-01T14:00:00+09:00")
    run_gateway("courier", "handover", "NHI-CDR-0601", "--to", "r.shimizu", "--place", "新宿区役所 本庁舎3階",
                "--quantity", "1", "--cabinet", "神田川 媒体保管金庫", *paper)  # courier-cdr: back within 30 days
    boxes = {"shinjuku.staff": "kokuho@city.shinjuku.example", "kandagawa-print.contractor": "desk@kandagawa.example",
             "shinjuku.security-officer": "security@city.shinjuku.example"}
    with open(home / "gateway.toml", "a", encoding="utf-8") as f:
        f.write(f'\n[mail]\nhost = "localhost"\nport = {smtp.port}\ncafile = "{smtp.cafile}"\n\n[mail.to]\n'
                + "".join(f'"{k}" = ["{v}"]\n' for k, v in boxes.items()))

    send_due(monkeypatch, datetime.fromisoformat("2020-06-28T10:00:00+09:00"))
    [due] = [x for x in smtp.messages if "Media return due" in x["subject"]]
    assert due["tls"] and due["subject"] == "【媒体の返却期限】NHI-CDR-0601 / Media return due: NHI-CDR-0601"
    assert due["to"] == sorted([boxes["shinjuku.staff"], boxes["kandagawa-print.contractor"]])
    assert "2020-07-01 14:00 JST" in due["body"] and sent["transfer"] in due["body"]
    assert due["body"].index("返却期限") < due["body"].index("must be back")  # Japanese first
    assert sent["passphrase"] not in due["body"] and "r.shimizu" not in due["body"]  # no secret, no person

    send_due(monkeypatch, datetime.fromisoformat("2020-06-29T10:00:00+09:00"))
    assert len([x for x in smtp.messages if "Media return" in x["subject"]]) == 1  # mailed once
    send_due(monkeypatch, datetime.fromisoformat("2020-07-02T10:00:00+09:00"))
    [late] = [x for x in smtp.messages if "Media return OVERDUE" in x["subject"]]
    assert late["to"] == sorted(boxes.values())
    logged = [e["reason"] for e in json.loads(run_gateway("log", "--json", "--action", "mail.send").stdout)]
    assert sum(r.startswith("media-return-") for r in logged) == 2

    # Back at the ward: nothing more is due for it.
    run_gateway("courier", "return", "NHI-CDR-0601", "--to", "w.kato", "--place", "新宿区役所 本庁舎3階",
                "--quantity", "1", "--cabinet", "医療保険年金課 媒体キャビネット", "--as", "r.shimizu", "--paper-ref", "書面 2",
                env={"GATEWAY_FAKE_NOW": "2020-07-03T10:00:00+09:00"})
    send_due(monkeypatch, datetime.fromisoformat("2020-07-10T10:00:00+09:00"))
    assert len([x for x in smtp.messages if "Media return" in x["subject"]]) == 2


def test_contract_duties_are_reminded_before_and_after_their_due_date(kurume, home, tmp_path, smtp, monkeypatch):
    """Issue 21: 「研修を半年に一回…行い、甲に研修実施に関する報告書を提出」 as a duty of the contract."""
    from tests.conftest import APPROVALS

    text = (APPROVALS / "kurume-2020-teigaku.toml").read_text(encoding="utf-8")
    text = text.replace('id = "kurume-2020-teigaku"', 'id = "kurume-2020-training"', 1) + (
        '\n[[duties]]\nid = "training"\nkind = "training-report"\nevery = "half-year"\n'
        'text = "従事者等に対して研修を半年に一回行い、甲に研修実施に関する報告書を提出しなければならない"\n')
    (tmp_path / "kurume-2020-training.toml").write_text(text, encoding="utf-8")
    run_gateway("approval", "add", str(tmp_path / "kurume-2020-training.toml"))
    configure(home, smtp.port, smtp.cafile)
    due = datetime.fromisoformat("2020-10-01T00:00:00+09:00")  # the end of the first half (April-September)
    assert send_due(monkeypatch, due - timedelta(days=2))["failed"] == 0
    [soon] = [x for x in smtp.messages if "Contract duty due" in x["subject"] and "2020H1" in x["subject"]]
    assert soon["to"] == [MAILBOXES["kurume.staff"]] and soon["subject"].startswith("【契約上の義務の期限】")
    send_due(monkeypatch, due + timedelta(hours=1))
    [late] = [x for x in smtp.messages if "Contract duty OVERDUE" in x["subject"] and "2020H1" in x["subject"]]
    assert late["to"] == sorted([MAILBOXES["kurume.staff"], MAILBOXES["kurume.security-officer"]])
    assert not [x for x in smtp.messages if "2020H2" in x["subject"]]  # not yet within the window
