"""`gateway user add|list`."""
from __future__ import annotations

import click
from sqlalchemy import select

from gateway.cli.common import cli_actor, echo_json, home_option, json_option, open_gateway, refusals_exit_1
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
@home_option
@json_option
@click.pass_context
@refusals_exit_1
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
@home_option
@json_option
@click.pass_context
@refusals_exit_1
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


def register(group: click.Group) -> None:
    group.add_command(user)
