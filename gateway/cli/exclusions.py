"""`gateway exclusion import`: a list the city keeps apart (DV support measures, placements),
taken in as keyed hashes only.

```
gateway exclusion import POPULATION --key-field addressee_code|resident_number -i LIST --as LOGIN [--json]
```
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from gateway.cli.common import as_option, cli_caller, home_option, open_gateway, refusals_exit_1
from gateway.core.records.fields import EXCLUDED_POPULATIONS
from gateway.core.records.keyed_lists import KEY_FIELDS


@click.group("exclusion")
def exclusion() -> None:
    """別に管理する除外リスト（鍵付きハッシュで照合） / separately held exclusion lists (keyed hashes)."""


@exclusion.command("import")
@click.argument("population", type=click.Choice(sorted(EXCLUDED_POPULATIONS)))
@click.option("--key-field", required=True, type=click.Choice(KEY_FIELDS),
              help="照合する番号（宛名番号・住民番号） / the number rows are matched by")
@click.option("-i", "--input", "source", required=True, type=click.Path(dir_okay=False, path_type=Path))
@as_option
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def import_cmd(ctx: click.Context, population: str, key_field: str, source: Path, login: str | None,
               home: str | None, as_json: bool) -> None:
    """リストを鍵付きハッシュに変えて取り込む（番号そのものは保存しない） / take a list in as keyed hashes."""
    from gateway.operations.exclusion_lists import import_list

    with open_gateway(ctx, home) as gw:
        done = import_list(gw, cli_caller(gw, login), population, key_field, source)
    if as_json:
        click.echo(json.dumps(done))
        return
    click.echo(f"取り込みました / imported: {done['entries']} 件（{population}、{key_field}）。元のリストは市で保管してください。")


def register(group: click.Group) -> None:
    group.add_command(exclusion)
