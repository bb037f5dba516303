"""The password notice: printable, escaped, owner-only, and never for the data's own channel."""
from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.core.approvals import load_approval
from gateway.core.profiles import load_profiles
from gateway.errors import GatewayError
from gateway.notices.password_notice import PasswordNotice, render, write

APPROVAL = load_approval(Path(__file__).parent / "data" / "approval-basic.toml")
PROFILES = load_profiles()
PASSPHRASE = "K7QF2-M9XWP-T4HRD-8NVCZ-3JGKB-YE6QA"


def notice(**kw) -> PasswordNotice:
    base = dict(
        notice_id="N-0001", transfer_id="T-0001", approval=APPROVAL, profile=PROFILES["lgwan-asp"],
        recipient_name="テスト印刷株式会社", record_count=305115, plaintext_sha256="ab" * 32,
        passphrase=PASSPHRASE, delivery_method="registered-mail",
        issued_at=datetime(2020, 6, 1, 1, 0, tzinfo=UTC),
    )
    base.update(kw)
    return PasswordNotice(**base)


def test_notice_carries_what_the_receiver_needs():
    html = render(notice())
    for text in ("パスワード通知書", "テスト諮問第1号", "T-0001", "305,115", "ab" * 32, "簡易書留",
                 "2020年06月01日 10:00", "受領者署名"):
        assert text in html
    # Printed exactly as `age -d` needs it typed: with its hyphens (issue 22: CSS spacing hid them).
    assert f'<td class="passphrase">{PASSPHRASE}</td>' in html


def test_names_are_escaped():
    html = render(notice(recipient_name="<script>alert(1)</script>{{7*7}}"))
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html and "{{7*7}}" in html


@pytest.mark.parametrize("method", ["lgwan-asp", "with-data", "email"])
def test_notice_with_the_data_is_refused(method):
    with pytest.raises(GatewayError) as err:
        render(notice(delivery_method=method))
    assert err.value.kind == "password-same-channel"
    assert PASSPHRASE not in str(err.value)


def test_written_owner_only_and_never_overwritten(tmp_path):
    path = tmp_path / "notice.html"
    write(notice(), path)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    with pytest.raises(GatewayError, match="never overwritten"):
        write(notice(), path)


def test_repr_hides_the_passphrase():
    assert PASSPHRASE not in repr(notice())
