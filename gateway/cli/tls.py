"""`gateway tls show|import`: the portal's TLS server certificate."""
from __future__ import annotations

import json
from pathlib import Path

import click

from gateway.cli.common import cli_actor, home_option, open_gateway, refusals_exit_1, resolve_home


@click.group()
def tls() -> None:
    """ポータルのサーバー証明書 / the portal's server certificate."""


def _print(described: dict[str, object], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(described, ensure_ascii=False))
        return
    issued = "このゲートウェイの CA / this gateway's CA" if described["issued_here"] else str(described["issuer"])
    click.echo(f"名前 / names: {', '.join(described['names'])}")  # type: ignore[arg-type]
    click.echo(f"発行者 / issuer: {issued}")
    click.echo(f"有効期限 / valid until: {described['not_after']}")
    click.echo(f"中間証明書 / chain: {described['chain']}  SHA-256: {described['sha256']}")


@tls.command()
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def show(ctx: click.Context, home: str | None, as_json: bool) -> None:
    """使用中の証明書 / the certificate in use."""
    from gateway.crypto import servercert

    _print(servercert.describe(resolve_home(ctx, home).keys).to_json(), as_json)


@tls.command("import")
@click.option("--cert", "cert", required=True, type=click.Path(path_type=Path), help="サーバー証明書（PEM） / the certificate")
@click.option("--key", "key", required=True, type=click.Path(path_type=Path), help="秘密鍵（PEM） / its private key")
@click.option("--chain", type=click.Path(path_type=Path), help="中間証明書（PEM、順に） / the intermediate certificates, in order")
@click.option("--key-passphrase-file", type=click.Path(path_type=Path),
              help="秘密鍵のパスフレーズのファイル / file holding the key's passphrase")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def import_(ctx: click.Context, cert: Path, key: Path, chain: Path | None, key_passphrase_file: Path | None,
            home: str | None, as_json: bool) -> None:
    """市または LGPKI の証明書を取り込む（確認してから置き換え） / use the city's or an LGPKI certificate."""
    from gateway.operations.tls import import_certificate

    passphrase = key_passphrase_file.read_bytes().rstrip(b"\r\n") if key_passphrase_file else None
    with open_gateway(ctx, home) as gw:
        described = import_certificate(gw, cli_actor(), cert, key, chain, passphrase)
    _print(described, as_json)
    if not as_json:
        click.echo("サービスを再起動すると使われます（systemctl restart gateway） / "
                   "takes effect when the service restarts (systemctl restart gateway)", err=True)


def register(group: click.Group) -> None:
    group.add_command(tls)
