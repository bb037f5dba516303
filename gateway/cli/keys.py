"""`gateway keys show|rotate-signing|rotate-kek`."""
from __future__ import annotations

import json

import click

from gateway.cli.common import echo_json, home_option, json_option, refusals_exit_1, resolve_home
from gateway.clock import Clock
from gateway.crypto.keystore import KeyStore


@click.group()
def keys() -> None:
    """鍵の管理 / the key store."""


@keys.command()
@home_option
@json_option
@click.pass_context
@refusals_exit_1
def show(ctx: click.Context, home: str | None, as_json: bool) -> None:
    """公開鍵の一覧（秘密鍵は表示しない） / public keys (never private ones)."""
    store = KeyStore(resolve_home(ctx, home).keys)
    current = store.signing_key().id
    if as_json:
        echo_json({"evidence_signing": [{"id": kid, "ed25519": public, "current": kid == current, "genesis":
                                         kid == store.genesis_key_id()} for kid, public in store.public_signing_keys().items()]})
        return
    for kid, public in store.public_signing_keys().items():
        mark = "*" if kid == current else " "
        click.echo(f"{mark} evidence-signing {kid} ed25519:{public}")


@keys.command("rotate-signing")
@home_option
@json_option
@click.pass_context
@refusals_exit_1
def rotate_signing(ctx: click.Context, home: str | None, as_json: bool) -> None:
    """証跡署名鍵の更新（旧鍵が新鍵を署名） / rotate the evidence key; the old key signs the new one."""
    statement = KeyStore(resolve_home(ctx, home).keys).rotate_signing_key(now=Clock().now())
    click.echo(json.dumps(statement, ensure_ascii=False, indent=None if as_json else 2))  # JSON either way


@keys.command("rotate-kek")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def rotate_kek(ctx: click.Context, home: str | None, as_json: bool) -> None:
    """鍵暗号化鍵の更新（全データ鍵を新しい世代で包み直し、旧世代を破棄） / rotate the key-encryption key:
    re-wrap every live data key under a new generation, destroy the old ones."""
    from gateway import kek_rotation
    from gateway.service import Gateway

    with Gateway.open(resolve_home(ctx, home)) as gw:
        result = kek_rotation.rotate(gw.engine, gw.ledger, gw.keys.kek(), now=gw.clock.now(), force=True)
    assert result is not None  # forced
    if as_json:
        click.echo(json.dumps(result.to_dict()))
        return
    click.echo(f"鍵暗号化鍵の世代 / KEK generation {result.generation} ({result.backend}): "
               f"再ラップ re-wrapped {result.rewrapped}, 破棄 destroyed {result.destroyed}")


def register(group: click.Group) -> None:
    group.add_command(keys)
