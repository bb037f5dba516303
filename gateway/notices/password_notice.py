"""The password notice (パスワード通知書): the one place a package passphrase is ever written down.

It exists only for a delivery method apart from the data (hand delivery, registered mail); asking
for one that would travel with the data is refused as `password-same-channel`. The document is
HTML for printing; a PDF would need a Japanese font and renderer this product does not ship.
The file holds a secret: it is created owner-only and never overwritten.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.clock import to_jst
from gateway.core.approvals import Approval
from gateway.core.policy import password_delivery_refusal
from gateway.core.profiles import PASSWORD_METHODS, Profile
from gateway.errors import Conflict, Refused
from gateway.fsutil import write_secret

if TYPE_CHECKING:
    from jinja2 import Environment


@functools.cache
def _env() -> Environment:
    # Built on first use: most sends print no notice, and Jinja2 is 0.04 s of a command's start-up.
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader("gateway.notices", "templates"),
        autoescape=select_autoescape(["html"]),  # names and ids come from files people wrote
        keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class PasswordNotice:
    notice_id: str
    transfer_id: str
    approval: Approval
    profile: Profile
    recipient_name: str
    record_count: int
    plaintext_sha256: str
    passphrase: str
    delivery_method: str
    issued_at: datetime

    def __repr__(self) -> str:  # never let the passphrase reach a log or a traceback
        return f"PasswordNotice(notice_id={self.notice_id!r}, transfer_id={self.transfer_id!r})"


def check_delivery(approval: Approval, profile: Profile, method: str) -> None:
    refusal = password_delivery_refusal(approval, profile, method)
    if refusal is not None:
        raise Refused([refusal])


def render(notice: PasswordNotice) -> str:
    check_delivery(notice.approval, notice.profile, notice.delivery_method)
    return _env().get_template("password_notice.html").render(
        n=notice,
        issued_jst=f"{to_jst(notice.issued_at):%Y年%m月%d日 %H:%M}",
        method_label=PASSWORD_METHODS[notice.delivery_method],
        passphrase=notice.passphrase,
    )


def write(notice: PasswordNotice, path: Path) -> None:
    html = render(notice).encode("utf-8")
    try:
        write_secret(path, html)
    except FileExistsError:
        raise Conflict(
            f"{path} は既に存在します。通知書は上書きしません。別の出力先を指定してください。",
            f"{path} exists; a notice is never overwritten. Choose another output path.",
        ) from None
