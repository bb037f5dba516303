"""How a command line ends on a refusal, the same for `gateway` and the contractor's `gateway-client`.

Both command lines decorate their commands with `refusals_exit_1`. It lives here, beside the error
vocabulary and below both, because the client must not import the gateway's command line (which
imports the simulator, which drives the client).
"""
from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from gateway.errors import GatewayError

F = TypeVar("F", bound=Callable[..., Any])


def refusals_exit_1(fn: F) -> F:
    """A GatewayError becomes exit code 1 with its bilingual message on stderr, and with `--json`
    also its JSON on stdout (`{"error", "category", "kinds", "ja", "en"}`), for scripts to read."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            # A database or disk fault outside any operation (opening the home, a read) is told
            # as what it is; anything else is a bug and keeps its traceback.
            err = _as_gateway_error(exc)
            if err is None:
                raise
            if kwargs.get("as_json"):
                click.echo(json.dumps(err.to_json(), ensure_ascii=False))
            click.echo(str(err), err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _as_gateway_error(exc: Exception) -> GatewayError | None:
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, OSError) or type(exc).__module__.startswith("sqlalchemy"):
        from gateway.store.failures import classify  # imports SQLAlchemy: only on this path

        return classify(exc)
    return None
