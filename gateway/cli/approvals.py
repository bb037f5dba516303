"""`gateway approval add|list|show`."""
from __future__ import annotations

import click


@click.group()
def approval() -> None:
    """審議会承認 / council approvals."""


def register(group: click.Group) -> None:
    group.add_command(approval)
