"""`gateway generate recipients`: synthetic recipient files (Faker ja_JP), never real people."""
from __future__ import annotations

import os
import time

import click

from gateway.cli.common import echo_json, json_option, refusals_exit_1
from gateway.errors import Invalid


@click.group()
def generate() -> None:
    """合成データの生成 / generate synthetic data."""


@generate.command()
@click.option("--count", required=True, type=click.IntRange(min=0))
@click.option("--schema", type=click.Choice(["kurume-2020", "shinjuku-2020"]), default="kurume-2020")
@click.option("--encoding", type=click.Choice(["cp932", "utf-8"]), default="cp932")
@click.option("--seed", type=int, default=0)
@click.option("--excluded-rate", type=click.FloatRange(0.0, 1.0), default=0.0)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@json_option
@refusals_exit_1
def recipients(count: int, schema: str, encoding: str, seed: int, excluded_rate: float, output: str, as_json: bool) -> None:
    """宛名ファイルを生成 / write a synthetic recipient file."""
    # Imported here: Faker takes a while to import and other subcommands do not need it.
    from gateway.synthetic import generate_recipients

    directory = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(directory):
        raise Invalid(
            f"出力先のフォルダ {directory} がありません。先に作成してください。",
            f"the output folder {directory} does not exist; create it first.",
        )
    started = time.monotonic()
    try:
        result = generate_recipients(
            output, count=count, schema=schema, encoding=encoding, seed=seed, excluded_rate=excluded_rate
        )
    except OSError as err:
        raise Invalid(
            f"{output} に書き込めません（{err.strerror}）。",
            f"cannot write {output} ({err.strerror}).",
        ) from None
    seconds = time.monotonic() - started
    if as_json:
        echo_json({"output": str(result.path), "rows": result.rows, "households": result.households, "schema": schema,
                   "encoding": encoding, "sha256": result.sha256, "seconds": round(seconds, 3)})
        return
    click.echo(
        f"{result.rows:,} 件（{result.households:,} 世帯）/ {result.rows} rows ({result.households} households), "
        f"{schema}, {encoding}, {seconds:.1f} s\n"
        f"{result.path}\n"
        f"sha256 {result.sha256}"
    )


def register(group: click.Group) -> None:
    group.add_command(generate)
