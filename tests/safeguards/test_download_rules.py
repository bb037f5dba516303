"""The approval's download rules from the command line (issue 20, item 2): a profile allowed for
the first transfer only, and a limit on complete downloads."""
from __future__ import annotations

import json

from tests.conftest import APPROVALS, run_gateway
from tests.safeguards.conftest import as_

LIMITED = "kurume-2020-limited"


def limited_approval(tmp_path):
    text = (APPROVALS / "kurume-2020-teigaku.toml").read_text(encoding="utf-8")
    text = text.replace('id = "kurume-2020-teigaku"', f'id = "{LIMITED}"', 1)
    path = tmp_path / f"{LIMITED}.toml"
    assert 'first_transfer_only = ["vpn-sftp"]' in text  # the shipped approval's set-up rule
    path.write_text(text + '\n[downloads]\nmax_complete = 1\nretries = 2\n', encoding="utf-8")
    return path


def send(source, profile, check=True):
    return run_gateway("send", str(source), "--approval", LIMITED, "--recipient", "chikugo-print", "--profile", profile,
                       "--password-delivery", "registered-mail", *as_("s.staff"), "--json", check=check)


def refusal(proc) -> dict:
    assert proc.returncode == 1, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_vpn_line_is_for_the_set_up_only(kurume, tmp_path):
    run_gateway("approval", "add", str(limited_approval(tmp_path)))
    first = json.loads(send(kurume, "vpn-sftp").stdout)
    again = refusal(send(kurume, "vpn-sftp", check=False))
    assert again["kinds"] == ["unapproved-channel"] and first["transfer"] in again["en"]
    assert json.loads(send(kurume, "lgwan-asp").stdout)["state"] == "sent"  # later ones over LGWAN-ASP


def test_the_approval_limits_complete_downloads(kurume, tmp_path):
    run_gateway("approval", "add", str(limited_approval(tmp_path)))
    t = json.loads(send(kurume, "lgwan-asp").stdout)["transfer"]
    run_gateway("fetch", t, "-o", str(tmp_path / "one.age"), *as_("k.tanaka"))
    again = refusal(run_gateway("fetch", t, "-o", str(tmp_path / "two.age"), *as_("k.tanaka"), "--json", check=False))
    assert again["kinds"] == ["download-over-limit"]
    assert not (tmp_path / "two.age").exists()


def test_a_rule_for_a_profile_the_approval_does_not_allow_is_not_registered(kurume, tmp_path):
    text = limited_approval(tmp_path).read_text(encoding="utf-8").replace(
        'first_transfer_only = ["vpn-sftp"]', 'first_transfer_only = ["courier-cdr"]')
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    proc = run_gateway("approval", "add", str(bad), check=False)
    assert proc.returncode == 1 and "first_transfer_only" in proc.stderr


def test_the_tightest_of_profile_approval_city_and_sender_applies():
    from dataclasses import replace

    from gateway.core.approvals import DownloadRule, load_approval
    from gateway.core.profiles import load_profiles
    from gateway.operations.downloads import limit_for
    from gateway.settings import DownloadSettings
    from tests.conftest import APPROVALS

    approval = load_approval(APPROVALS / "kurume-2020-teigaku.toml")
    profile = load_profiles()["lgwan-asp"]
    city = DownloadSettings()
    assert limit_for(approval, profile, city, None) == (1, 3)  # nothing set: the first complete download, 3 retries
    assert limit_for(approval, profile, DownloadSettings(max_complete=0), None) is None  # the city lifted it
    assert limit_for(approval, replace(profile, max_downloads=3), city, None) == (1, 3)
    assert limit_for(approval, replace(profile, max_downloads=3), DownloadSettings(max_complete=0), None) == (3, 3)
    limited = replace(approval, downloads=DownloadRule(max_complete=2, retries=1))
    assert limit_for(limited, replace(profile, max_downloads=3), DownloadSettings(max_complete=5), None) == (2, 1)
    assert limit_for(limited, profile, city, 1) == (1, 1)
