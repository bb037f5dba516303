"""An installation whose approval asks for a second person's check (issue 20)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import APPROVALS, run_gateway

CHECKED = "kurume-2020-checked"


def checked_approval(tmp_path: Path, rule: str = 'above_records = 100\napprovers = ["s.checker"]') -> Path:
    """The Kurume approval under another id, with a `[second_check]` table."""
    text = (APPROVALS / "kurume-2020-teigaku.toml").read_text(encoding="utf-8")
    text = text.replace('id = "kurume-2020-teigaku"', f'id = "{CHECKED}"', 1)
    text = text[:text.index("\n[second_check]")]  # the shipped one names approvers only; it is last
    path = tmp_path / f"{CHECKED}.toml"
    path.write_text(text + f"\n[second_check]\n{rule}\n", encoding="utf-8")
    return path


@pytest.fixture
def checked(kurume, tmp_path):
    """The Kurume installation, the checked approval, a checker and a staff member it does not name."""
    run_gateway("approval", "add", str(checked_approval(tmp_path)))
    run_gateway("user", "add", "s.checker", "--org", "kurume", "--role", "staff", "--name", "確認 課長")
    run_gateway("user", "add", "s.other", "--org", "kurume", "--role", "staff", "--name", "別の 職員")
    return kurume


def send_checked(source: Path, *extra: str, check: bool = True, profile: str = "lgwan-asp"):
    return run_gateway("send", str(source), "--approval", CHECKED, "--recipient", "chikugo-print",
                       "--profile", profile, "--password-delivery", "registered-mail", "--as", "s.staff",
                       "--paper-ref", "書面 1", "--json", *extra, check=check)


def as_(login: str) -> tuple[str, ...]:
    return ("--as", login, "--paper-ref", "書面 2")
