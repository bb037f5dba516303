"""`gateway simulate SCENARIO`: replay a mailing end to end and audit the result."""
from __future__ import annotations

import json
from pathlib import Path

import click

from gateway.cli.common import refusals_exit_1

# A rehearsal never reads $GATEWAY_DB_URL: the shell it runs in may name the production database.
REHEARSAL_DB_HELP = ("リハーサル専用の空のデータベース（既定: 出力先の SQLite。GATEWAY_DB_URL は読まない） / an empty "
                     "database for this rehearsal only (default: SQLite in the output; GATEWAY_DB_URL is never read)")


@click.command()
@click.argument("scenario")
@click.option("--records", type=click.IntRange(min=1), help="人数を縮小 / scale the population down")
@click.option("--seed", type=int, default=2020, show_default=True)
@click.option("--fault", "faults", multiple=True, help="注入する障害の種類（複数可） / finding kind to inject")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--rehearsal-db", metavar="URL", help=REHEARSAL_DB_HELP)
@click.option("--json", "as_json", is_flag=True)
@refusals_exit_1
def simulate(scenario: str, records: int | None, seed: int, faults: tuple[str, ...], output: Path,
             rehearsal_db: str | None, as_json: bool) -> None:
    """シナリオを実行し監査する / replay a mailing scenario end to end and audit it."""
    from gateway.simulate.runner import simulate as run
    from gateway.simulate.scenario import load

    result = run(load(scenario), output, records=records, seed=seed, faults=list(faults),
                 echo=(lambda _: None) if as_json else click.echo, rehearsal_db=rehearsal_db)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo(f"シナリオ / scenario: {result['scenario']}　{result['records']:,} 件　"
               f"受け渡し / transfers: {result['transfers']}　経路 / channels: {', '.join(result['channels'])}")
    click.echo(f"注入 / injected: {', '.join(result['injected']) or '-'}")
    click.echo(f"検出 / findings: {', '.join(result['findings']) or '-'}")
    click.echo(result["rests_on"])
    click.echo(f"証跡 / bundle: {result['bundle']}　報告 / report: {result['report']}　{result['seconds']} s")


def register(group: click.Group) -> None:
    group.add_command(simulate)
