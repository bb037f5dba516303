"""Transfer profiles: how one channel is used (`gateway/data/transfer_profiles/*.toml`).

An approval names the profiles it allows; a profile says who may send and receive, how the
password notice may travel (never with the data), how long the receipt may take, how long the
gateway may keep its copy, when media must come back, and which evidence each step must produce.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from gateway.core.tomlfile import DefinitionError, Table, parse, read_text
from gateway.data import profiles_dir

CHANNELS = ("lgwan-asp", "vpn-sftp", "courier")
ROLES = ("staff", "contractor", "security-officer", "admin")
SENDER_KINDS = ("city", "contractor")
RECEIVER_KINDS = ("contractor", "subcontractor")
# Ways a password notice may travel. None of them is a data channel: that is the point.
PASSWORD_METHODS = {"hand": "手渡し", "registered-mail": "簡易書留"}
MEDIA = ("cdr", "dvd", "hdd")
EVIDENCE = (
    "transfer",
    "password-notice",
    "custody",
    "receipt",
    "gateway-erasure",
    "deletion-request",
    "erasure-certificate",
)


@dataclass(frozen=True)
class Profile:
    id: str
    title: str
    channel: str
    sender_kind: str  # who hands over: the city, or a contractor relaying to its subcontractor
    sender_roles: tuple[str, ...]
    receiver_kind: str
    password_delivery: tuple[str, ...]
    password_on_other_day: bool  # courier: notice and media never on the same JST calendar day
    receipt_window_hours: int
    gateway_retention_days: int
    media: tuple[str, ...]
    media_return_days: int | None
    evidence: tuple[str, ...]
    source_sha256: str = field(default="", compare=False)
    # Complete downloads one package of this profile allows (複写の禁止); None: as the approval
    # and the city say.
    max_downloads: int | None = None


def load_profile(path: str | Path) -> Profile:
    path = Path(path)
    profile = parse_profile_text(read_text(path), path)
    if profile.id != path.stem:
        raise DefinitionError(
            f"{path}: id「{profile.id}」がファイル名と一致しません。",
            f"{path}: id '{profile.id}' does not match the file name.",
        )
    return profile


def parse_profile_text(text: str, path: Path | str) -> Profile:
    t = Table(parse(text, path), "", path)
    profile_id = t.text("id") or ""
    channel = t.choice("channel", CHANNELS) or ""
    methods = t.texts("password_delivery", choices=PASSWORD_METHODS)
    if not methods:
        raise DefinitionError(
            f"{path}: password_delivery が空です。手渡しか簡易書留を指定してください。",
            f"{path}: password_delivery is empty; name hand delivery or registered mail.",
        )
    media = t.texts("media", required=False, choices=MEDIA)
    media_return_days = t.integer("media_return_days", required=False, minimum=1)
    other_day = t.flag("password_on_other_day", default=False)
    if channel == "courier" and not (media and media_return_days and other_day):
        raise DefinitionError(
            f"{path}: 媒体の受け渡しでは media、media_return_days、password_on_other_day = true が必要です。",
            f"{path}: a courier profile needs media, media_return_days and password_on_other_day = true.",
        )
    if channel != "courier" and (media or media_return_days):
        raise DefinitionError(
            f"{path}: media と media_return_days は courier の経路だけに指定できます。",
            f"{path}: media and media_return_days apply to courier profiles only.",
        )
    profile = Profile(
        id=profile_id,
        title=t.text("title") or "",
        channel=channel,
        sender_kind=t.choice("sender_kind", SENDER_KINDS) or "",
        sender_roles=t.texts("sender_roles", choices=ROLES),
        receiver_kind=t.choice("receiver_kind", RECEIVER_KINDS) or "",
        password_delivery=methods,
        password_on_other_day=other_day,
        receipt_window_hours=t.integer("receipt_window_hours", minimum=1) or 0,
        gateway_retention_days=t.integer("gateway_retention_days", minimum=0) or 0,
        media=media,
        media_return_days=media_return_days,
        evidence=t.texts("evidence", choices=EVIDENCE),
        max_downloads=t.integer("max_downloads", required=False, minimum=1, maximum=1000),
        source_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )
    t.done()
    return profile


def load_profiles(directory: Path | None = None) -> dict[str, Profile]:
    directory = directory or profiles_dir()
    return {p.stem: load_profile(p) for p in sorted(directory.glob("*.toml"))}
