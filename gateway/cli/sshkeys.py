"""`gateway user add-key`: the SSH public keys handlers log in with over the VPN (SFTP) line."""
from __future__ import annotations

import json
from pathlib import Path

import click

from gateway.cli.common import (
    as_option,
    cli_actor,
    cli_caller,
    console_command,
    echo_json,
    home_option,
    open_gateway,
    operator,
    refusals_exit_1,
)
from gateway.errors import Invalid
from gateway.operations.sshkeys import add_key


@click.command("add-key")
@click.argument("login")
@click.argument("keyfile", type=click.Path(dir_okay=False, path_type=Path))
@console_command
def add_key_cmd(ctx: click.Context, login: str, keyfile: Path, home: str | None, as_json: bool) -> None:
    """SFTP のログイン鍵（公開鍵）を登録 / register an SSH public key for SFTP login."""
    try:
        text = keyfile.read_text(encoding="ascii", errors="strict")[:16384]
    except (OSError, UnicodeDecodeError):
        raise Invalid(f"{keyfile} を公開鍵として読めません。", f"cannot read {keyfile} as a public key.") from None
    with open_gateway(ctx, home) as gw:
        fp = add_key(gw, login, text, cli_actor())
    if as_json:
        echo_json({"login": login, "fingerprint": fp})
        return
    click.echo(f"登録しました / registered: {login} {fp}")


@click.command("revoke-key")
@click.argument("login")
@click.argument("key", metavar="FINGERPRINT|KEY.pub")
@home_option
@click.pass_context
@refusals_exit_1
def revoke_key_cmd(ctx: click.Context, login: str, key: str, home: str | None) -> None:
    """鍵を取り消す（以後ログイン・署名不可。過去の署名は有効） / revoke a handler's key from now on."""
    from gateway.operations.sshkeys import revoke_key

    text = key
    if not key.startswith("SHA256:"):
        try:
            text = Path(key).read_text(encoding="ascii", errors="strict")[:16384]
        except (OSError, UnicodeDecodeError):
            raise Invalid(f"{key} を公開鍵として読めません。", f"cannot read {key} as a public key.") from None
    with open_gateway(ctx, home) as gw:
        fp = revoke_key(gw, login, text, cli_actor())
    click.echo(f"取り消しました / revoked: {login} {fp}")


@click.group()
def org() -> None:
    """組織 / organisations: the contractor's server for pushes."""


@org.command("pin-host")
@click.argument("organisation")
@click.option("--host", required=True, help="送付先ホスト / the contractor's SFTP server")
@click.option("--port", type=click.IntRange(1, 65535), default=22, show_default=True)
@click.option("--host-key", "host_key_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="ホスト公開鍵（OpenSSH 形式 1 行） / the server's public host key, one OpenSSH line")
@click.option("--user", "username", required=True, help="ログイン名 / login at the server")
@click.option("--dir", "directory", required=True, help="送付先ディレクトリ（絶対パス） / remote directory")
@console_command
def pin_host_cmd(ctx: click.Context, organisation: str, host: str, port: int, host_key_file: Path, username: str,
                 directory: str, home: str | None, as_json: bool) -> None:
    """送付先サーバーとホスト鍵を登録 / pin the server (and its host key) pushes go to."""
    from gateway.channels.vpn_sftp.push import pin_host, push_public_key

    try:
        line = host_key_file.read_text(encoding="ascii")[:16384]
    except (OSError, UnicodeDecodeError):
        raise Invalid(f"{host_key_file} を公開鍵として読めません。",
                           f"cannot read {host_key_file} as a public key.") from None
    with open_gateway(ctx, home) as gw:
        fp = pin_host(gw, organisation, host=host, port=port, host_key=line, username=username,
                      directory=directory, who=cli_actor())
        public = push_public_key(gw.keys)
    if as_json:
        echo_json({"organisation": organisation, "host": host, "port": port, "user": username, "directory": directory,
                   "host_key_fingerprint": fp, "push_key": public})
        return
    click.echo(f"登録しました / pinned: {organisation} {username}@{host}:{port}{directory} {fp}")
    click.echo(f"送付先の authorized_keys に登録する鍵 / key for the server's authorized_keys:\n{public}")


@org.command("push-key")
@console_command
def push_key_cmd(ctx: click.Context, home: str | None, as_json: bool) -> None:
    """送信に使う公開鍵を表示 / print the public key the gateway pushes with."""
    from gateway.channels.vpn_sftp.push import push_public_key

    with open_gateway(ctx, home) as gw:
        public = push_public_key(gw.keys)
    click.echo(json.dumps({"push_key": public}) if as_json else public)


@click.command("push")
@click.argument("transfer")
@as_option
@click.option("--json", "as_json", is_flag=True)
@home_option
@click.pass_context
@refusals_exit_1
def push_cmd(ctx: click.Context, transfer: str, login: str | None, as_json: bool, home: str | None) -> None:
    """受託者の SFTP サーバーへ送信 / push a package to the contractor's SFTP server."""
    import json

    from gateway.channels.vpn_sftp.push import push

    with open_gateway(ctx, home) as gw:
        caller = cli_caller(gw, login)
        # City staff push as themselves (or a colleague's paper); the administrator as the operator.
        staff = caller.proxy is not None or operator().role == "staff"
        done = push(gw, transfer, as_login=caller if staff else None, cli=cli_actor())
    if as_json:
        click.echo(json.dumps({"transfer": done.transfer, "destination": done.destination, "size": done.size,
                               "sha256": done.sha256}))
    else:
        click.echo(f"送信しました / pushed: {done.destination} ({done.size} bytes, SHA-256 {done.sha256})")


def register(group: click.Group) -> None:
    from gateway.cli.users import user

    user.add_command(add_key_cmd)
    user.add_command(revoke_key_cmd)
    group.add_command(org)
    group.add_command(push_cmd)
