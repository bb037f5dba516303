"""`gateway operator add|list`: who may sit at the gateway's console, as which account."""
from __future__ import annotations

import json

import click

from gateway.cli.common import home_option, open_gateway, operator, refusals_exit_1


@click.group("operator")
def operator_group() -> None:
    """操作者（OS の利用者とアカウントの対応） / operators: OS users and the accounts they act as."""


@operator_group.command("add")
@click.argument("os_user")
@click.option("--login", required=True, help="ゲートウェイのアカウント / the gateway account")
@home_option
@click.pass_context
@refusals_exit_1
def add_cmd(ctx: click.Context, os_user: str, login: str, home: str | None) -> None:
    """OS の利用者を操作者として登録（管理者のみ） / map an OS user to an account (administrator only)."""
    from gateway.operations import operators

    with open_gateway(ctx, home) as gw:
        operators.add(gw, operator(), os_user, login)
    click.echo(f"登録しました / added: {os_user} → {login}")


@operator_group.command("list")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def list_cmd(ctx: click.Context, home: str | None, as_json: bool) -> None:
    """操作者の一覧 / operators."""
    from gateway.operations import operators

    with open_gateway(ctx, home) as gw:
        rows = operators.listed(gw)
    if as_json:
        click.echo(json.dumps([{"os_user": u, "login": login, "role": role} for u, login, role in rows]))
        return
    for u, login, role in rows:
        click.echo(f"{u}\t{login}\t{role}")


def register(group: click.Group) -> None:
    group.add_command(operator_group)
