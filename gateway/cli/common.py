"""What every subcommand shares: the home option and turning refusals into exit code 1."""
from __future__ import annotations

import functools
import getpass
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from gateway.errors import GatewayError
from gateway.home import Home

if TYPE_CHECKING:  # the ledger imports SQLAlchemy: only commands that log pay for it
    from gateway.clock import Clock
    from gateway.ledger.log import Actor
    from gateway.service import Gateway

F = TypeVar("F", bound=Callable[..., Any])

home_option = click.option(
    "--home",
    type=click.Path(file_okay=False),
    default=None,
    help="gateway home (default: $GATEWAY_HOME, else ./var)",
)


json_option = click.option("--json", "as_json", is_flag=True, help="結果を JSON で出力 / print the result as JSON")


def echo_json(value: object) -> None:
    click.echo(json.dumps(value, ensure_ascii=False))


def resolve_home(ctx: click.Context, home: str | None = None) -> Home:
    """A subcommand's own --home wins over the group's."""
    root = ctx.find_root()
    return Home.resolve(home or (root.obj or {}).get("home"))


def refusals_exit_1(fn: F) -> F:
    """A GatewayError becomes exit code 1 with its bilingual message on stderr, and with `--json`
    also its JSON on stdout (`{"error", "category", "kinds", "ja", "en"}`), for scripts to read."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GatewayError as err:
            if kwargs.get("as_json"):
                click.echo(json.dumps(err.to_json(), ensure_ascii=False))
            click.echo(str(err), err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def open_gateway(ctx: click.Context, home: str | None = None, clock: Clock | None = None) -> Gateway:
    """The installation a command acts on. An in-process caller (the simulator) may hand the root
    command a clock (`obj={"clock": ...}`), so that no process-wide variable has to carry it."""
    from gateway.service import Gateway

    root = ctx.find_root().obj or {}
    return Gateway.open(resolve_home(ctx, home), clock or root.get("clock"))


def cli_actor() -> Actor:
    """Who runs a local command: the operating-system account, as an administrator."""
    from gateway.ledger.log import Actor

    return Actor(user=f"cli:{getpass.getuser()}", role="admin")
