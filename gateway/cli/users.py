"""`gateway user add|list|disable|enable|unlock|credentials-delivered`."""
from __future__ import annotations

import click
from sqlalchemy import select

from gateway.cli.common import cli_actor, console_command, echo_json, open_gateway
from gateway.operations import lifecycle
from gateway.operations.accounts import ROLES
from gateway.operations.users import register_user
from gateway.store import models as m
from gateway.store.models_directory import DirectoryAccount


@click.group()
def user() -> None:
    """利用者 / accounts."""


@user.command("add")
@click.argument("login")
@click.option("--org", required=True, help="組織 id / organisation")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", required=True, help="氏名 / display name")
@click.option("--directory", is_flag=True,
              help="ディレクトリ（LDAP）でログイン。役割はグループで決まる / logs in through the directory; "
                   "its groups decide the role at each login")
@console_command
def add(ctx: click.Context, login: str, org: str, role: str, name: str, directory: bool, home: str | None,
        as_json: bool) -> None:
    """利用者を登録（資格情報は別途交付） / add an account; credentials are issued separately."""
    with open_gateway(ctx, home) as gw:
        register_user(gw, login=login, name=name, org=org, role=role, actor=cli_actor(), directory=directory)
    if as_json:
        echo_json({"login": login, "org": org, "role": role, "name": name, "directory": directory})
        return
    click.echo(f"登録しました / added: {login}")


@user.command("list")
@console_command
def list_(ctx: click.Context, home: str | None, as_json: bool) -> None:
    """利用者の一覧 / accounts."""
    with open_gateway(ctx, home) as gw, gw.read() as session:
        in_directory = set(session.scalars(select(DirectoryAccount.user_id)))
        rows = [{"login": u.login, "role": u.role, "org": u.organisation_id, "name": u.display_name,
                 "state": "disabled" if u.disabled else "active", "directory": u.id in in_directory}
                for u in session.scalars(select(m.User).order_by(m.User.organisation_id, m.User.login))]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo("\t".join((*(str(r[k]) for k in ("login", "role", "org", "name", "state")),
                               "directory" if r["directory"] else "local")))


def _done(as_json: bool, login: str, state: str, ja: str, en: str) -> None:
    if as_json:
        echo_json({"login": login, "state": state})
    else:
        click.echo(f"{ja} / {en}: {login}")


@user.command("disable")
@click.argument("login")
@click.option("--reason", required=True, help="理由（退職、異動、端末の紛失など） / why")
@console_command
def disable_(ctx: click.Context, login: str, reason: str, home: str | None, as_json: bool) -> None:
    """利用者を無効にする（ログイン中のセッションも終了） / disable an account and end its sessions."""
    with open_gateway(ctx, home) as gw:
        lifecycle.disable(gw, login, reason=reason, actor=cli_actor())
    _done(as_json, login, "disabled", "無効にしました", "disabled")


@user.command("enable")
@click.argument("login")
@click.option("--reason", required=True, help="理由 / why")
@console_command
def enable_(ctx: click.Context, login: str, reason: str, home: str | None, as_json: bool) -> None:
    """無効にした利用者を再び有効にする / enable a disabled account again."""
    with open_gateway(ctx, home) as gw:
        lifecycle.enable(gw, login, reason=reason, actor=cli_actor())
    _done(as_json, login, "active", "有効にしました", "enabled")


@user.command("unlock")
@click.argument("login")
@console_command
def unlock_(ctx: click.Context, login: str, home: str | None, as_json: bool) -> None:
    """ログイン失敗によるロックを解除 / lift the lock repeated failed log-ins put on an account."""
    with open_gateway(ctx, home) as gw:
        lifecycle.unlock(gw, login, actor=cli_actor())
    _done(as_json, login, "active", "ロックを解除しました", "unlocked")


@user.command("credentials-delivered")
@click.argument("login")
@click.option("--method", required=True, type=click.Choice(list(lifecycle.DELIVERY_METHODS)),
              help="パスワードの交付方法 / how the password reached the person")
@click.option("--ref", "reference", required=True, help="簡易書留の番号、または手渡しした人 / tracking number or who handed it over")
@console_command
def credentials_delivered(ctx: click.Context, login: str, method: str, reference: str, home: str | None,
                          as_json: bool) -> None:
    """初期資格情報（ページのアドレス、ID、パスワード）の交付を記録 / record the delivery of initial credentials."""
    with open_gateway(ctx, home) as gw:
        lifecycle.record_delivery(gw, login, method=method, reference=reference, actor=cli_actor())
    if as_json:
        echo_json({"login": login, "method": method, "reference": reference})
    else:
        click.echo(f"交付を記録しました / delivery recorded: {login}（{method}）")


def register(group: click.Group) -> None:
    group.add_command(user)
