"""`gateway keys show|rotate-signing`."""
from __future__ import annotations

import json

import click

from gateway.clock import Clock
from gateway.cli.common import home_option, refusals_exit_1, resolve_home
from gateway.crypto.keystore import KeyStore


@click.group()
def keys() -> None:
    """鍵の管理 / the key store."""


@keys.command()
@home_option
@click.pass_context
@refusals_exit_1
def show(ctx: click.Context, home: str | None) -> None:
    """公開鍵の一覧（秘密鍵は表示しない） / public keys (never private ones)."""
    store = KeyStore(resolve_home(ctx, home).keys)
    current = store.signing_key().id
    for kid, public in store.public_signing_keys().items():
        mark = "*" if kid == current else " "
        click.echo(f"{mark} evidence-signing {kid} ed25519:{public}")


@keys.command("rotate-signing")
@home_option
@click.pass_context
@refusals_exit_1
def rotate_signing(ctx: click.Context, home: str | None) -> None:
    """証跡署名鍵の更新（旧鍵が新鍵を署名） / rotate the evidence key; the old key signs the new one."""
    statement = KeyStore(resolve_home(ctx, home).keys).rotate_signing_key(now=Clock().now())
    click.echo(json.dumps(statement, ensure_ascii=False, indent=2))


def register(group: click.Group) -> None:
    group.add_command(keys)
