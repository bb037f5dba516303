"""`gateway mail send-due`: one round of notifications, as `gateway serve` runs them."""
from __future__ import annotations

import click

from gateway.cli.common import cli_actor, console_command, echo_json, open_gateway, resolve_home
from gateway.errors import Invalid
from gateway.service_ops import oplog


@click.group()
def mail() -> None:
    """メール通知 / e-mail notifications."""


@mail.command("send-due")
@console_command
def send_due_cmd(ctx: click.Context, home: str | None, as_json: bool) -> None:
    """期限・ロック・拒否の通知を送信（送信済みは送らない） / mail what is due and not yet sent."""
    from gateway.mail import config, sender
    from gateway.operations.attempt import attempt

    oplog.configure("warning")  # a relay that refuses is said on stderr as JSON lines, as by serve
    with open_gateway(ctx, home) as gw:
        with attempt(gw, cli_actor(), "mail.send-due", channel="cli"):
            settings = config.load(resolve_home(ctx, home).root)
            if settings is None:
                raise Invalid("gateway.toml に [mail] がありません。運用ガイドの「メール通知」を参照してください。",
                              "gateway.toml has no [mail] table; see the operator guide, \"Notifications\".")
        counts = sender.send_due(gw, settings)
    if as_json:
        echo_json(counts)
    else:
        click.echo(f"送信 / sent: {counts['sent']}  失敗 / failed: {counts['failed']}  "
                   f"宛先なし / no mailbox: {counts['no_mailbox']}")
    if counts["failed"]:  # exit 1: what failed is tried again by the next round
        ctx.exit(1)


def register(group: click.Group) -> None:
    group.add_command(mail)
