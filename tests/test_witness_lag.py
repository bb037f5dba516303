"""The witness lag on `/metrics` (issue 22, item 2): per active witness, the log entries it has not
cosigned and how long the oldest checkpoint it has not cosigned has waited, against a real witness
(`audit witness serve`) that goes down and comes back."""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from gateway.clock import FixedClock
from gateway.home import Home
from gateway.service import Gateway
from gateway.service_ops.metrics import Metrics
from tests.audit.witness_process import Council
from tests.conftest import IN_PERIOD, run_gateway

NAME = "council.kurume.example.jp/witness"


@pytest.fixture
def rehearsal_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "home"
    monkeypatch.setenv("GATEWAY_HOME", str(root))
    monkeypatch.delenv("GATEWAY_DB_URL", raising=False)
    monkeypatch.setenv("GATEWAY_FAKE_NOW", IN_PERIOD)
    run_gateway("init", "--rehearsal", "--log-origin", "kurume.example.jp/gateway")
    return root


@pytest.fixture
def council(tmp_path: Path, rehearsal_home: Path) -> Iterator[Council]:
    c = Council(tmp_path / "witness", rehearsal_home, NAME).start()
    yield c
    c.stop()


def lag_at(home: Path, at: datetime) -> tuple[int, int]:
    """(entries, seconds) of the witness as `/metrics` renders them, with the gateway's clock at `at`."""
    gw = Gateway.open(Home(home), FixedClock(at))
    try:
        text = Metrics(gw).render()
    finally:
        gw.close()
    label = re.escape(f'{{witness="{NAME}"}}')
    entries = re.search(rf"^gateway_witness_lag_entries{label} (\d+)$", text, re.M)
    seconds = re.search(rf"^gateway_witness_lag_seconds{label} (\d+)$", text, re.M)
    assert entries and seconds, text
    assert "# TYPE gateway_witness_lag_seconds gauge" in text
    return int(entries.group(1)), int(seconds.group(1))


def test_the_lag_grows_while_the_witness_is_down_and_returns_to_zero(
        rehearsal_home: Path, council: Council, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    start = datetime.fromisoformat(IN_PERIOD)
    run_gateway("witness", "add", council.url, "--key", str(council.vkey))
    run_gateway("witness", "submit")
    assert lag_at(rehearsal_home, start) == (0, 0)

    council.stop()
    monkeypatch.setenv("GATEWAY_FAKE_NOW", (start + timedelta(hours=1)).isoformat())
    # A logged refusal: one more entry, and the checkpoint the command writes as it closes.
    assert run_gateway("approval", "add", str(tmp_path / "missing.toml"), check=False).returncode == 1
    run_gateway("witness", "submit", check=False)  # the witness is down: nothing is cosigned
    entries, seconds = lag_at(rehearsal_home, start + timedelta(hours=3))
    assert entries >= 1 and seconds == 2 * 3600

    council.start()
    run_gateway("witness", "submit")
    assert lag_at(rehearsal_home, start + timedelta(hours=3)) == (0, 0)
