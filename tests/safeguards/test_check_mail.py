"""A send waiting for a second check is mailed to the city's staff mailbox once (issue 22's
notifications, for issue 20's check), over STARTTLS to a real aiosmtpd relay."""
from __future__ import annotations

import json
from datetime import datetime

from tests.conftest import IN_PERIOD
from tests.safeguards.conftest import send_checked
from tests.service.test_mail import MAILBOXES, configure, send_due, smtp  # noqa: F401  (smtp: fixture)


def test_a_held_send_is_mailed_to_the_city_staff_once(checked, home, tmp_path, smtp, monkeypatch):  # noqa: F811
    sent = json.loads(send_checked(checked).stdout)
    configure(home, smtp.port, smtp.cafile)
    at = datetime.fromisoformat(IN_PERIOD)
    assert send_due(monkeypatch, at)["failed"] == 0
    [mail] = [x for x in smtp.messages if "Second check requested" in x["subject"]]
    assert sent["transfer"] in mail["subject"] and mail["to"] == [MAILBOXES["kurume.staff"]]
    assert mail["body"].index("二重確認") < mail["body"].index("second person")
    assert sent["sha256"] not in mail["body"]  # identifiers only
    before = len(smtp.messages)
    send_due(monkeypatch, at)
    assert len(smtp.messages) == before
