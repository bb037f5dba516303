"""`gateway init` and `gateway demo`."""
from __future__ import annotations

import json

import click

from gateway import installation
from gateway.clock import from_environment
from gateway.cli.common import home_option, refusals_exit_1, resolve_home


@click.command()
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def init(ctx: click.Context, home: str | None, as_json: bool) -> None:
    """データベース・鍵・証明書を作成（何度実行しても安全） / create database and keys; idempotent."""
    result = installation.init(resolve_home(ctx, home), at=from_environment().now())
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo(f"ゲートウェイのホーム / gateway home: {result['home']}")
    click.echo(f"スキーマ / schema revision: {result['schema']}")
    if result["profiles_added"]:
        click.echo(f"登録した受け渡し方法 / profiles registered: {', '.join(result['profiles_added'])}")  # type: ignore[arg-type]




@click.command()
@click.option("--records", type=click.IntRange(min=1), default=305_115, show_default=True,
              help="宛名の件数 / recipients (Kurume 2020: 305,115)")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def demo(ctx: click.Context, records: int, home: str | None, as_json: bool) -> None:
    """久留米市 2020 年の受け渡しを実規模で実行 / run the Kurume 2020 hand-over at full size."""
    from gateway.demo import run

    result = run(resolve_home(ctx, home), records=records, echo=(lambda _: None) if as_json else click.echo)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo("")
    click.echo(f"送付 / sent: {result['sent']:,} / {result['records']:,} 件　受け渡し / transfer: {result['transfer']}")
    click.echo(f"受領確認 / receipt: {'一致 / matches' if result['receipt_matches'] else '不一致 / MISMATCH'}")
    click.echo(f"証跡バンドル / evidence bundle: {result['bundle']}")
    click.echo(f"独立監査 / audit verify: exit {result['audit_exit']}  {result['audit_output'].splitlines()[0] if result['audit_output'] else ''}")
    click.echo(f"所要時間 / wall time: {result['total_seconds']} s　最大メモリ / peak RSS: {result['peak_rss_mb']} MB")
    click.echo("ログの確認 / review the log: gateway log --approval kurume-2020-teigaku")
    if result["audit_exit"] != 0 or not result["receipt_matches"]:
        ctx.exit(1)


def register(group: click.Group) -> None:
    group.add_command(init)
    group.add_command(demo)
