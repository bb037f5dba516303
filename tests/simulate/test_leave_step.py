"""The scenario step "a handler leaving mid-contract" (issue 20, item 5): the city decides the
successor, the handler list is amended without registering the approval again, the leaver's account
is disabled, and the successor finishes the hand-over (deletion request and erasure certificate);
the run verifies with no finding, and the leaver can no longer act."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.simulate.runner import simulate
from gateway.simulate.scenario import load

SCENARIO = """
name = "handler-leaves"
title = "取扱責任者の退職（契約途中）"
approvals = ["kurume-2020-teigaku"]
start = 2020-06-01T09:30:00+09:00

[population]
records = 60
schema = "kurume-2020"
encoding = "cp932"

[[users]]
login = "kurume.staff"
org = "kurume"
role = "staff"
name = "給付金室 職員"

[[steps]]
action = "send"
id = "update"
approval = "kurume-2020-teigaku"
profile = "lgwan-asp"
recipient = "chikugo-print"
notice = "registered-mail"

[[steps]]
after = "10m"
action = "notice"
transfer = "update"
method = "registered-mail"

[[steps]]
after = "1d"
action = "download"
transfer = "update"

[[steps]]
after = "1h"
action = "confirm"
transfer = "update"

[[steps]]
after = "7d"
action = "leave"
transfer = "update"
login = "k.tanaka"
successor = "k.yamada:山田 次郎:responsible"
decision = "久市民第4001号（2020年6月10日決裁）"
reason = "取扱責任者の退職"

[[steps]]
after = "1d"
action = "delete"
transfer = "update"

[[steps]]
after = "1d"
action = "export"
"""


@pytest.fixture(autouse=True)
def fast_scrypt(monkeypatch):
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    monkeypatch.delenv("GATEWAY_FAKE_NOW", raising=False)


def test_a_handler_leaving_mid_contract(tmp_path: Path) -> None:
    path = tmp_path / "handler-leaves.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    out = tmp_path / "out"
    result = simulate(load(str(path)), out, records=None, seed=3, faults=[], echo=lambda _: None)
    assert result["verified"] is True and result["findings"] == []
    entries = [json.loads(line) for line in (out / "bundle" / "log" / "entries.jsonl").read_text().splitlines()]
    amended = [e for e in entries if e["action"] == "approval.amend-handlers"]
    assert len(amended) == 1 and amended[0]["outcome"] == "ok"
    assert any(e["action"] == "user.disable" and "k.tanaka" in e["reason"] for e in entries)
    # The successor, not the leaver, asked for the deletion and certified it.
    for action in ("deletion.request", "deletion.certify"):
        by = {e["actor"]["user"] for e in entries if e["action"] == action and e["outcome"] == "ok"}
        assert by == {"k.yamada"}, (action, by)
    document = json.loads((out / "bundle" / "evidence" / f"{amended[0]['evidence']['id']}.json").read_text())
    assert document["removed"] == ["k.tanaka"] and document["handlers_after"][-1] == "k.yamada"
