"""What every subcommand shares: the home option, the operator, and (from gateway.exits) turning refusals into exit code 1."""
from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from gateway.exits import refusals_exit_1 as refusals_exit_1  # every subcommand takes it from here
from gateway.home import Home

if TYPE_CHECKING:  # the ledger imports SQLAlchemy: only commands that log pay for it
    from gateway.clock import Clock
    from gateway.ledger.log import Actor
    from gateway.operations.accounts import Caller
    from gateway.operations.operators import Operating
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


def open_gateway(ctx: click.Context, home: str | None = None, clock: Clock | None = None) -> Gateway:
    """The installation a command acts on, and the named operator who runs it (an unmapped
    operating-system user is refused and logged: gateway.operations.operators). An in-process
    caller (the simulator) may hand the root command a clock and the OS user its person works as
    (`obj={"clock": ..., "os_user": ...}`), so that no process-wide variable has to carry them."""
    from gateway.operations import operators
    from gateway.service import Gateway

    root = ctx.find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    gw = Gateway.open(resolve_home(ctx, home), clock or obj.get("clock"))
    try:
        root.meta["gateway.operator"] = operators.resolve(gw, obj.get("os_user") or operators.os_user())
    except BaseException:
        gw.close()
        raise
    return gw


def operator() -> Operating:
    """The operator `open_gateway` resolved for the running command."""
    found: Operating | None = click.get_current_context().find_root().meta.get("gateway.operator")
    if found is None:
        raise RuntimeError("open_gateway() resolves the operator before a command acts")
    return found


@contextlib.contextmanager
def reading_gateway(ctx: click.Context, home: str | None = None) -> Iterator[Gateway]:
    """The installation for a command that only reads: unlike `open_gateway`, leaving it writes
    no shutdown checkpoint, so a read never becomes a write."""
    gw = open_gateway(ctx, home)
    try:
        yield gw
    finally:
        gw.engine.dispose()


def cli_actor() -> Actor:
    """Who runs a local command: the named operator, as their gateway account."""
    return operator().actor()


def as_option(fn: F) -> F:
    """`--as PERSON` with the paper it is entered from (`--paper FILE` | `--paper-ref TEXT`); without
    `--as` the operator acts as themself. `cli_caller` turns them into the Caller of the operation."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        click.get_current_context().find_root().meta["gateway.paper"] = (kwargs.pop("paper"), kwargs.pop("paper_ref"))
        return fn(*args, **kwargs)

    for option in (click.option("--paper-ref", help="代理入力する書面の番号・保管場所 / where the paper is filed"),
                   click.option("--paper", type=click.Path(dir_okay=False, path_type=Path),
                                help="代理入力する書面のスキャン（SHA-256 を記録） / the paper's scan"),
                   click.option("--as", "login", help="書面の本人（代理入力） / the person whose paper you enter")):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def console_command(fn: F) -> F:
    """The options every console command takes: `--home`, `--json`, the click context first, and
    refusals as exit code 1."""
    return home_option(json_option(click.pass_context(refusals_exit_1(fn))))  # type: ignore[return-value]


def acting_command(fn: F) -> F:
    """A console command a person runs under their own name or from another's paper (`--as`)."""
    return as_option(console_command(fn))


def cli_caller(gw: Gateway, login: str | None) -> Caller:
    """The operator themself, or with `--as` the person whose paper they enter (logged as such)."""
    from gateway.operations import operators

    paper, paper_ref = click.get_current_context().find_root().meta.get("gateway.paper", (None, None))
    return operators.caller(gw, operator(), login, paper=paper, paper_ref=paper_ref)
