"""`gateway`: the operator's command line (INTERFACE.md is the contract for names and exit codes).

Exit 0 success, 1 a refused or failed operation (message on stderr, Japanese then English),
2 a usage error (click's own).

Subcommands are loaded on first use (click's LazyGroup pattern): every `gateway` process is one
command an operator typed, and importing all of them cost about a second per process (SQLAlchemy,
FastAPI, paramiko), which the contractor's `gateway package decrypt` needs none of.
"""
from __future__ import annotations

import importlib
from typing import Any

import click

from gateway import __version__
from gateway.cli.common import home_option

# Top-level command -> the gateway.cli modules whose register() adds it, in this order. `user`
# gains subcommands from portal (issue-password) and sshkeys (add-key), which need `user` added
# first. tests/test_cli_lazy.py checks this table against registering every module at once.
COMMANDS: dict[str, tuple[str, ...]] = {
    "init": ("system",), "demo": ("system",),
    "approval": ("approvals",),
    "user": ("users", "portal", "sshkeys"),
    "check": ("check",),
    "send": ("handover",), "fetch": ("handover",), "receipt": ("handover",), "notice": ("handover",),
    "export": ("evidence",), "log": ("evidence",),
    "retention": ("retention",), "deletion": ("retention",),
    "hotfolder": ("hotfolder",),
    "generate": ("generate",),
    "keys": ("keys",),
    "package": ("package",),
    "serve": ("serve",),
    "simulate": ("simulate",),
    "org": ("sshkeys",), "push": ("sshkeys",),
    "courier": ("courier",),
    "delivery": ("delivery",),
    "duty": ("duties",),
    "exclusion": ("exclusions",),
    "terminal": ("portal",),
    "settings": ("settings",),
    "doctor": ("doctor",),
    "witness": ("witnesses",),
    "operator": ("operators",),
    "tls": ("tls",),
    "mail": ("mail",),
    "second-check": ("second_check",),
    "transfer": ("incidents",), "incident": ("incidents",),
    "cluster": ("cluster",),
    "command-server": ("command_server",),
}
MODULES = ("system", "approvals", "users", "check", "handover", "evidence", "retention", "hotfolder", "generate",
           "keys", "package", "serve", "simulate", "sshkeys", "courier", "portal", "settings", "doctor", "witnesses",
           "operators", "tls", "mail", "delivery", "duties", "exclusions",
           "second_check", "incidents", "cluster", "command_server")


class LazyGroup(click.Group):
    """Imports a subcommand's modules only when that subcommand is looked up."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, ...]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = dict(lazy)
        self._loaded: set[str] = set()

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self._lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy and cmd_name not in self._loaded:
            # register() only adds commands (adding one again replaces it with itself), so a
            # module that two entries share may register twice.
            for name in self._lazy[cmd_name]:
                importlib.import_module(f"gateway.cli.{name}").register(self)
            self._loaded.add(cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="gateway", message="%(prog)s %(version)s")
@home_option
@click.pass_context
def main(ctx: click.Context, home: str | None) -> None:
    """LGWAN 連携ファイル受け渡しゲートウェイ / file-exchange gateway for resident data."""
    ctx.ensure_object(dict)
    ctx.obj["home"] = home
