"""The officer's report page runs the auditor under the trust policy the installation published
(`gateway keys publish`), with the witnesses it names: never unpinned, never on the bundle's own keys."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.audit.witness_process import Council
from tests.portal.conftest import Portal, bearer, cli

REPORT = "/api/v1/approvals/kurume-2020-teigaku/report"


def report(portal: Portal) -> dict:
    with bearer(portal, "sec.officer") as (c, h):
        r = c.get(REPORT, headers=h)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_report_rests_on_the_published_policy_and_its_witness(portal: Portal,
                                                                  tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("officer-policy")
    policy = root / "trust.toml"
    cli("keys", "publish", "-o", str(policy))
    rep = report(portal)
    assert rep["verified"] is True and rep["unverifiable"] is False
    assert rep["trust"]["sha256"] == hashlib.sha256(policy.read_bytes()).hexdigest()
    assert rep["trust"]["witnesses"] == [] and rep["witnessed"] is None

    council = Council(root / "witness", portal.home).start()
    try:
        cli("witness", "add", council.url, "--key", str(council.vkey))
        cli("keys", "publish", "-o", str(policy))
        rep = report(portal)
        assert rep["trust"]["sha256"] == hashlib.sha256(policy.read_bytes()).hexdigest()
        assert rep["trust"]["witnesses"] == [str(council.vkey)] and rep["trust"]["quorum"] == 1
        assert rep["verified"] is True, rep["failures"]
        assert rep["witnessed"] == rep["log"]["entries"] + rep["log"]["pruned"]["entries"]
        with bearer(portal, "sec.officer") as (c, h):
            page = c.get("/officer/report?approval=kurume-2020-teigaku", headers=h).text
        assert council.vkey.name in page and "必要数 1" in page
        council.stop()  # the witness is down: the page says the tail is unwitnessed, not verified
        rep = report(portal)
        assert rep["verified"] is False
        assert {f["kind"] for f in rep["findings"] if not f["prevented"]} == {"log-unwitnessed"}
    finally:
        council.stop()
        cli("witness", "remove", council.vkey.name)
        cli("keys", "publish", "-o", str(policy))  # the other tests' installation has no witness again
    assert Path(policy).is_file()
