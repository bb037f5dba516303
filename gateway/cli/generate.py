"""`gateway generate recipients`: synthetic recipient files (Faker ja_JP), never real people."""
from __future__ import annotations

import click

from gateway.cli.common import not_yet_available, refusals_exit_1


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
@refusals_exit_1
def recipients(**_: object) -> None:
    """宛名ファイルを生成 / write a synthetic recipient file."""
    raise not_yet_available("gateway generate recipients")


def register(group: click.Group) -> None:
    group.add_command(generate)
