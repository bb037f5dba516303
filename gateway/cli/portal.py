"""`gateway terminal issue|revoke` and `gateway user issue-password`: the portal's credentials.

Both kinds of credential reach people apart from the data: the terminal's key file is installed
on the designated terminal, the initial password travels by registered mail and must be changed
at the first login.
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from gateway.cli.common import cli_actor, console_command, echo_json, home_option, open_gateway, refusals_exit_1


@click.group()
def terminal() -> None:
    """専用端末の証明書 / designated terminals' client certificates."""


@terminal.command("issue")
@click.argument("login")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="鍵と証明書の出力先 / directory for the key and certificate")
@click.option("--days", type=click.IntRange(1, 825), default=365, show_default=True, help="有効日数 / validity")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def issue_cmd(ctx: click.Context, login: str, output: Path, days: int, home: str | None, as_json: bool) -> None:
    """端末証明書を発行 / issue a terminal certificate signed by the gateway CA."""
    from gateway.channels.lgwan_asp import terminals

    with open_gateway(ctx, home) as gw:
        issued = terminals.issue(gw, login, output, actor=cli_actor(), days=days)
    if as_json:
        click.echo(json.dumps({"serial": issued.serial, "fingerprint": issued.fingerprint, "key": str(issued.key),
                               "certificate": str(issued.cert), "pkcs12": str(issued.p12),
                               "pkcs12_password": issued.p12_password,
                               "not_after": issued.not_after.isoformat()}))
        return
    click.echo(f"発行しました / issued: serial {issued.serial}")
    click.echo(f"指紋 / SHA-256: {issued.fingerprint}")
    click.echo(f"鍵・証明書 / key, certificate: {issued.key}, {issued.cert}")
    click.echo(f"ブラウザ用 PKCS#12 / for browsers: {issued.p12}")
    click.echo(f"PKCS#12 のパスワード（一度だけ表示） / its password (shown once): {issued.p12_password}")


@terminal.command("revoke")
@click.argument("serial_or_login")
@console_command
def revoke_cmd(ctx: click.Context, serial_or_login: str, home: str | None, as_json: bool) -> None:
    """端末証明書を失効（シリアル番号または利用者） / revoke by serial number or every one of a user."""
    from gateway.channels.lgwan_asp import terminals

    with open_gateway(ctx, home) as gw:
        revoked = terminals.revoke(gw, serial_or_login, actor=cli_actor())
    if as_json:
        echo_json({"revoked": revoked})
        return
    click.echo(f"失効しました / revoked: {' '.join(revoked) or '-'}")


@click.command("issue-password")
@click.argument("login")
@console_command
def issue_password_cmd(ctx: click.Context, login: str, home: str | None, as_json: bool) -> None:
    """初期パスワードを発行（一度だけ表示・初回ログインで変更） / issue an initial password (shown once)."""
    from gateway.channels.lgwan_asp.auth import issue_initial_password

    with open_gateway(ctx, home) as gw:
        password = issue_initial_password(gw, login, actor=cli_actor())
    if as_json:  # shown once, as without --json: the script that asked must deliver it
        echo_json({"login": login, "initial_password": password})
        return
    click.echo("初期パスワード（一度だけ表示。簡易書留で本人に届けてください） / "
               "initial password (shown once; send it by registered mail):")
    click.echo(password)


def register(group: click.Group) -> None:
    group.add_command(terminal)
    user_group = group.commands.get("user")
    if isinstance(user_group, click.Group):
        user_group.add_command(issue_password_cmd)
