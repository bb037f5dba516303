"""`gateway init` and `gateway demo`."""
from __future__ import annotations

import json

import click

from gateway import installation
from gateway.clock import Clock
from gateway.cli.common import home_option, refusals_exit_1, resolve_home


@click.command()
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def init(ctx: click.Context, home: str | None, as_json: bool) -> None:
    """データベース・鍵・証明書を作成（何度実行しても安全） / create database and keys; idempotent."""
    result = installation.init(resolve_home(ctx, home), at=Clock().now())
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo(f"ゲートウェイのホーム / gateway home: {result['home']}")
    click.echo(f"スキーマ / schema revision: {result['schema']}")
    if result["profiles_added"]:
        click.echo(f"登録した受け渡し方法 / profiles registered: {', '.join(result['profiles_added'])}")  # type: ignore[arg-type]


def register(group: click.Group) -> None:
    group.add_command(init)
