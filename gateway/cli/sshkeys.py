"""`gateway user add-key`: the SSH public keys handlers log in with over the VPN (SFTP) line."""
from __future__ import annotations

from pathlib import Path

import click

from gateway.cli.common import cli_actor, home_option, refusals_exit_1, resolve_home
from gateway.errors import GatewayError
from gateway.operations.sshkeys import add_key
from gateway.service import Gateway


@click.command("add-key")
@click.argument("login")
@click.argument("keyfile", type=click.Path(dir_okay=False, path_type=Path))
@home_option
@click.pass_context
@refusals_exit_1
def add_key_cmd(ctx: click.Context, login: str, keyfile: Path, home: str | None) -> None:
    """SFTP のログイン鍵（公開鍵）を登録 / register an SSH public key for SFTP login."""
    try:
        text = keyfile.read_text(encoding="ascii", errors="strict")[:16384]
    except (OSError, UnicodeDecodeError):
        raise GatewayError(f"{keyfile} を公開鍵として読めません。", f"cannot read {keyfile} as a public key.") from None
    with Gateway.open(resolve_home(ctx, home)) as gw:
        fp = add_key(gw, login, text, cli_actor())
    click.echo(f"登録しました / registered: {login} {fp}")


def register(group: click.Group) -> None:
    from gateway.cli.users import user

    user.add_command(add_key_cmd)
