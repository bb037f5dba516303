"""`gateway settings show`: the settings in force for this installation, and where each came from."""
from __future__ import annotations

import json

import click

from gateway.cli.common import home_option, refusals_exit_1, resolve_home
from gateway.settings import load


@click.group()
def settings() -> None:
    """設定 / settings ($GATEWAY_HOME/gateway.toml and GATEWAY_<SECTION>_<KEY>)."""


@settings.command("show")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def show(ctx: click.Context, home: str | None, as_json: bool) -> None:
    """現在有効な設定 / the settings in force (a database password is never shown)."""
    # Read from the file and the environment alone, without the database: this is what an
    # operator looks at when the database cannot be reached (and it acts on no one's data).
    data = load(resolve_home(ctx, home).root).to_json()
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    sources = data.pop("sources")
    for section, values in data.items():
        if values is None:  # an optional section the file does not set ([directory])
            continue
        click.echo(f"[{section}]")
        for key, value in values.items():
            click.echo(f"{key} = {value!r}    # {sources.get(f'{section}.{key}', 'default')}")


def register(group: click.Group) -> None:
    group.add_command(settings)
