"""Registering accounts: who may act at the gateway, logged like every change."""
from __future__ import annotations

from gateway.errors import Invalid
from gateway.ledger.log import Actor
from gateway.operations.accounts import add_user
from gateway.operations.attempt import attempt
from gateway.service import Gateway
from gateway.store.models_directory import DirectoryAccount


def register_user(gw: Gateway, *, login: str, name: str, org: str, role: str, actor: Actor,
                  directory: bool = False, channel: str = "cli") -> None:
    """An account, logged; its credentials (password, terminal, SSH key) are issued separately.
    A directory account has no password here: each login binds to the city's directory, and its
    role follows its groups there (`[directory]` in the settings)."""
    with attempt(gw, actor, "user.add", channel=channel) as a, gw.unit() as session:
        a.subject_org = org
        if directory:
            _check_directory_account(gw, org=org, role=role)
        user = add_user(session, login=login, name=name, org=org, role=role, at=gw.clock.now())
        if directory:
            user.must_change_password = False  # its password is the directory's to manage
            session.add(DirectoryAccount(user_id=user.id, added_at=gw.clock.now()))
        how = "; logs in through the directory" if directory else ""
        gw.ledger.record(session, a.event(reason=f"{login} ({role}) in {org}{how}"))


def _check_directory_account(gw: Gateway, *, org: str, role: str) -> None:
    config = gw.settings.directory
    if config is None:
        raise Invalid("ディレクトリ連携が設定されていません。gateway.toml に [directory] を書いてから登録してください。",
                      "no directory is configured: add [directory] to gateway.toml first (see the operator guide).")
    if org != config.organisation:
        raise Invalid(f"ディレクトリの利用者は組織「{config.organisation}」にだけ登録できます。受託者はローカルのアカウントです。",
                      f"directory accounts belong to '{config.organisation}' (the directory's organisation); "
                      "contractors keep local accounts.")
    if role == "contractor":
        raise Invalid("受託者はディレクトリでログインできません。ローカルのアカウントとして登録してください。",
                      "contractors cannot log in through the directory; register a local account.")
