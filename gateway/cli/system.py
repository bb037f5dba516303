"""`gateway init` and `gateway demo`."""
from __future__ import annotations

import click


def register(group: click.Group) -> None:
    pass
