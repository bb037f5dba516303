"""`gateway doctor [--repair] [--json]`: the installation checked whole, and what to do."""
from __future__ import annotations

import json

import click

from gateway.cli.common import home_option, refusals_exit_1, resolve_home

MARKS = {"ok": "[ok]", "warning": "[注意 warning]", "error": "[異常 ERROR]"}


@click.command()
@click.option("--repair", is_flag=True,
              help="停止したプロセスの残したもの（平文・通知書・一時ファイル）を削除 / remove what processes that "
                   "died left behind (plaintext, notices, partial files); nothing else")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def doctor(ctx: click.Context, repair: bool, home: str | None, as_json: bool) -> None:
    """データベース・ログ・保管データ・作業領域の点検 / check the database, log, packages and work area."""
    from gateway.operations.doctor import diagnose

    result = diagnose(resolve_home(ctx, home), repair=repair)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        if result.repaired is not None:
            r = result.repaired
            click.echo(f"修復 / repaired: {len(r['removed'])} files removed from the work area, "
                       f"{len(r['notices_removed'])} notices of uncommitted transfers, "
                       f"{len(r['temporaries_removed'])} partial blob files")
        for c in result.checks:
            click.echo(f"{MARKS[c.status]} {c.check}: {c.ja}")
            click.echo(f"{' ' * len(MARKS[c.status])} {c.check}: {c.en}")
            for d in c.details[:20]:
                click.echo(f"      - {d}")
        click.echo("異常なし / all checks passed" if result.ok else "異常あり / problems found", err=not result.ok)
    if not result.ok:
        ctx.exit(1)


def register(group: click.Group) -> None:
    group.add_command(doctor)
