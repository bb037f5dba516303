"""What every subcommand shares: the home option and turning refusals into exit code 1."""
from __future__ import annotations

import functools
import getpass
import sys
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import click

from gateway.errors import GatewayError
from gateway.home import Home

if TYPE_CHECKING:  # the ledger imports SQLAlchemy: only commands that log pay for it
    from gateway.ledger.log import Actor

F = TypeVar("F", bound=Callable[..., Any])

home_option = click.option(
    "--home",
    type=click.Path(file_okay=False),
    default=None,
    help="gateway home (default: $GATEWAY_HOME, else ./var)",
)


def resolve_home(ctx: click.Context, home: str | None = None) -> Home:
    """A subcommand's own --home wins over the group's."""
    root = ctx.find_root()
    return Home.resolve(home or (root.obj or {}).get("home"))


def refusals_exit_1(fn: F) -> F:
    """A GatewayError becomes its bilingual message on stderr and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GatewayError as err:
            click.echo(str(err), err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def not_yet_available(what: str) -> GatewayError:
    return GatewayError(
        f"「{what}」はまだ利用できません。今後のリリースで提供されます。",
        f"'{what}' is not yet available in this release.",
    )


def cli_actor() -> Actor:
    """Who runs a local command: the operating-system account, as an administrator."""
    from gateway.ledger.log import Actor

    return Actor(user=f"cli:{getpass.getuser()}", role="admin")
