"""Delivering notices over SMTP: STARTTLS with the certificate checked (no plaintext fallback),
each delivered notice recorded as one `mail.send` entry in the access log (its key first, then
how many mailboxes), which is also what keeps it from being sent twice. A relay that refuses or
cannot be reached is tried three times, then left for the next round; that is said in the
operational log, not the access log, so a relay that is down for a day does not fill it."""
from __future__ import annotations

import os
import smtplib
import ssl
import threading
import time
from email.message import EmailMessage
from email.utils import make_msgid

from gateway.ledger.log import Event
from gateway.mail import notices, templates
from gateway.mail.config import MailConfig
from gateway.service import Gateway
from gateway.service_ops import oplog
from gateway.store.leader import Leadership

ATTEMPTS = 3
_log = oplog.get("mail")


def _message(config: MailConfig, notice: notices.Notice, mailboxes: tuple[str, ...]) -> EmailMessage:
    subject, body = templates.render(notice.kind, notice.fields)
    message = EmailMessage()
    message["From"] = config.sender
    message["To"] = ", ".join(mailboxes)
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or "localhost")
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to the gateway
    message.set_content(body, charset="utf-8")
    return message


def _deliver(config: MailConfig, message: EmailMessage) -> None:
    with smtplib.SMTP(config.host, config.port, timeout=30) as smtp:
        smtp.ehlo()
        if config.starttls:
            context = ssl.create_default_context(cafile=config.cafile)
            smtp.starttls(context=context)  # raises if the relay offers no STARTTLS: never in clear
            smtp.ehlo()
        if config.username:
            smtp.login(config.username, os.environ.get(config.password_env or "", ""))
        smtp.send_message(message)


def send_due(gw: Gateway, config: MailConfig, *, pause: float = 1.0) -> dict[str, int]:
    """One round: mail every notice that is due and not yet sent. Returns counts."""
    counts = {"sent": 0, "failed": 0, "no_mailbox": 0}
    for notice in notices.due(gw):
        mailboxes = tuple(dict.fromkeys(b for org, role in notice.to for b in config.mailboxes(org, role)))
        if not mailboxes:
            counts["no_mailbox"] += 1
            continue
        message = _message(config, notice, mailboxes)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                _deliver(config, message)
                break
            except (OSError, smtplib.SMTPException) as err:
                _log.warning("mail not delivered", extra={"notice": notice.key, "attempt": attempt,
                                                          "error": f"{type(err).__name__}: {err}"[:300]})
                if attempt < ATTEMPTS:
                    time.sleep(pause * attempt)
        else:
            counts["failed"] += 1
            continue
        gw.record(Event(action=notices.ACTION, channel="system",
                        approval=notice.fields.get("approval"), transfer=notice.fields.get("transfer"),
                        reason=f"{notice.key} to {len(mailboxes)} mailbox(es) ({notice.kind})"))
        counts["sent"] += 1
    return counts


class Mailer(threading.Thread):
    """Rounds every `config.interval_seconds` inside `gateway serve`, until stop()."""

    def __init__(self, gw: Gateway, config: MailConfig, interval: float | None = None) -> None:
        super().__init__(name="mailer", daemon=True)
        self.gw, self.config = gw, config
        self.interval = interval or config.interval_seconds
        self.stopping = threading.Event()
        # One node mails at a time, so that several nodes never send the same notice twice.
        self.leadership = Leadership(gw.engine, "mail")

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                if not self.leadership.held():
                    self.stopping.wait(self.interval)
                    continue
                counts = send_due(self.gw, self.config)
                if counts["sent"] or counts["failed"]:
                    _log.info("mail round", extra=counts)
            except Exception as err:  # a failed round is said and retried, never ends the service
                _log.error("mail round failed", extra={"error": type(err).__name__})
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=60)
        self.leadership.release()
