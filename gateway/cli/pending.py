"""Commands of the contract that later work fills in. They refuse honestly (exit 1) rather than
pretend; each moves to a module of its own when it is built."""
from __future__ import annotations

import click

from gateway.cli.common import not_yet_available, refusals_exit_1


@click.command()
@click.option("--portal-port", type=int)
@click.option("--sftp-port", type=int)
@click.option("--hotfolder", type=click.Path(file_okay=False))
@click.option("--bind", default="127.0.0.1", show_default=True)
@refusals_exit_1
def serve(**_: object) -> None:
    """ポータルと SFTP を起動 / run the portal and the SFTP server."""
    raise not_yet_available("gateway serve")


def register(group: click.Group) -> None:
    for command in (serve,):
        group.add_command(command)
