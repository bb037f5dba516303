"""`gateway`: the operator's command line (INTERFACE.md is the contract for names and exit codes).

Exit 0 success, 1 a refused or failed operation (message on stderr, Japanese then English),
2 a usage error (click's own).
"""
from __future__ import annotations

import click

from gateway.cli.common import home_option
from gateway.cli import approvals, check, courier, evidence, generate, handover, hotfolder, keys, package, portal, retention, serve, simulate, sshkeys, system, users


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@home_option
@click.pass_context
def main(ctx: click.Context, home: str | None) -> None:
    """LGWAN 連携ファイル受け渡しゲートウェイ / file-exchange gateway for resident data."""
    ctx.ensure_object(dict)
    ctx.obj["home"] = home


for module in (system, approvals, users, check, handover, evidence, retention, hotfolder, generate, keys, package, serve, simulate, sshkeys, courier, portal):
    module.register(main)
