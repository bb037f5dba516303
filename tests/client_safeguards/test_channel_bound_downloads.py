"""Downloads bound to their profile's channel and limited in number (issue 20, item 2), through
`gateway-client` against the real portal (mutual TLS) and the real SFTP server."""
from __future__ import annotations

import json

import pytest

from tests.client.conftest import FAKE, World
from tests.conftest import run_gateway


def receive(world: World, t: dict, which: str, channel: str, out, check: bool = True):
    args = world.portal_args("k.tanaka") if channel == "portal" else world.sftp_args("k.tanaka")
    path = world.root / f"{which}.pass"
    path.write_text(t["passphrase"] + "\n")
    return world.client("receive", t["transfer"], "-o", str(out), "--passphrase-file", str(path), *args, "--json",
                        check=check)


def refusal(proc) -> dict:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def refused_downloads(transfer: str) -> list[dict]:
    entries = json.loads(run_gateway("log", "--action", "transfer.download", "--outcome", "refused", "--json").stdout)
    return [e for e in entries if e["object"]["transfer"] == transfer]


@pytest.fixture(scope="module")
def limited(world: World) -> dict:
    """A hand-over of each channel whose sender allowed one complete download."""
    out = {}
    for which, profile in (("lgwan", "lgwan-asp"), ("vpn", "vpn-sftp")):
        out[which] = json.loads(run_gateway(
            "send", str(world.root / "recipients.csv"), "--approval", "kurume-2020-teigaku", "--recipient",
            "chikugo-print", "--profile", profile, "--password-delivery", "registered-mail", "--max-downloads", "1",
            "--as", "s.staff", "--paper-ref", "送付依頼書 2", "--json", env=FAKE).stdout)
    return out


@pytest.mark.parametrize(("which", "wrong"), [("lgwan", "sftp"), ("vpn", "portal")])
def test_a_package_leaves_only_over_its_profiles_channel(world: World, limited: dict, which: str, wrong: str,
                                                        tmp_path) -> None:
    t = limited[which]
    answer = refusal(receive(world, t, which, wrong, tmp_path / "x.csv", check=False))
    if wrong == "portal":  # SFTP answers with a status only: its kind is in the log, below
        assert answer["kinds"] == ["unapproved-channel"]
    assert not (tmp_path / "x.csv").exists()
    assert [e["kinds"] for e in refused_downloads(t["transfer"])][-1:] == [["unapproved-channel"]]


@pytest.mark.parametrize(("which", "channel"), [("lgwan", "portal"), ("vpn", "sftp")])
def test_a_second_complete_download_is_refused(world: World, limited: dict, which: str, channel: str,
                                               tmp_path) -> None:
    t = limited[which]
    got = json.loads(receive(world, t, which, channel, tmp_path / "first.csv").stdout)
    assert got["matches"] is True
    answer = refusal(receive(world, t, which, channel, tmp_path / "again.csv", check=False))
    if channel == "portal":
        assert answer["kinds"] == ["download-over-limit"]
    assert not (tmp_path / "again.csv").exists()
    assert refused_downloads(t["transfer"])[-1]["kinds"] == ["download-over-limit"]


def test_a_handler_reports_an_incident_over_either_channel(world: World, limited: dict) -> None:
    t = limited["lgwan"]
    facts = ["--transfer", t["transfer"], "--content", "作業端末の紛失", "--records", "500", "--place", "受託者 作業室",
             "--circumstances", "退庁時に施錠を確認したが端末が見当たらない", "--occurred-at", "2026-12-01T18:00"]
    filed = json.loads(world.client("incident", "report", *facts, *world.portal_args("k.tanaka"), "--json").stdout)
    shown = json.loads(run_gateway("incident", "show", filed["incident"], "--as", "s.staff", "--paper-ref", "x",
                                   "--json").stdout)
    assert shown["reported_by"] == "k.tanaka" and shown["records"] == 500 and shown["contractor"] == "chikugo-print"
    over_vpn = json.loads(world.client("incident", "report", *facts, *world.sftp_args("k.tanaka"), "--json").stdout)
    assert over_vpn["incident"] != filed["incident"]
    stranger = world.client("incident", "report", *facts, *world.sftp_args("x.outsider"), "--json", check=False)
    assert refusal(stranger)["category"] == "not-found"  # not a handler of this transfer
