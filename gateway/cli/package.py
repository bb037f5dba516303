"""`gateway package encrypt|decrypt`: age v1 files with a passphrase recipient."""
from __future__ import annotations

import click

from gateway.cli.common import not_yet_available, refusals_exit_1


@click.group()
def package() -> None:
    """暗号化パッケージ / encrypted packages (age v1)."""


@package.command()
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--passphrase-file", required=True, type=click.Path(dir_okay=False))
@refusals_exit_1
def encrypt(**_: object) -> None:
    """age v1 で暗号化 / encrypt to an age v1 file."""
    raise not_yet_available("gateway package encrypt")


@package.command()
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--passphrase-file", required=True, type=click.Path(dir_okay=False))
@refusals_exit_1
def decrypt(**_: object) -> None:
    """age v1 を復号 / decrypt an age v1 file."""
    raise not_yet_available("gateway package decrypt")


def register(group: click.Group) -> None:
    group.add_command(package)
