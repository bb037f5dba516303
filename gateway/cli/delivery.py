"""`gateway delivery record`: the 納品 of the printed notices, written into the 確認書 by city staff.

```
gateway delivery record TRANSFER --from HANDLER --to STAFF --place P --content TEXT --quantity N
                        [--at T] [--partial] --as LOGIN [--json]
```
"""
from __future__ import annotations

import json

import click

from gateway.cli.check import parse_instant
from gateway.cli.common import as_option, cli_caller, home_option, open_gateway, refusals_exit_1
from gateway.clock import timestamp, to_jst


@click.group("delivery")
def delivery() -> None:
    """納品（封入封緘済み通知書等）の確認書 / deliveries of the printed notices back to the city."""


@delivery.command("record")
@click.argument("transfer")
@click.option("--from", "frm", required=True, help="納品する受託者の取扱者 / the contractor's handler delivering")
@click.option("--to", "to", required=True, help="受け取る職員 / the city's staff member receiving")
@click.option("--place", required=True, help="場所 / where")
@click.option("--content", required=True, help="情報の内容 / what was delivered")
@click.option("--quantity", required=True, type=click.IntRange(min=0), help="数量 / pieces")
@click.option("--at", "at", help="納品日時（JST） / when")
@click.option("--partial", is_flag=True, help="分納（まだ続きがある） / more deliveries follow (not 納品完了)")
@as_option
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def record_cmd(ctx: click.Context, transfer: str, frm: str, to: str, place: str, content: str, quantity: int,
               at: str | None, partial: bool, login: str | None, home: str | None, as_json: bool) -> None:
    """納品を確認書に記録し、納品後の期限を定める / record a delivery and the deadlines it starts."""
    from gateway.operations.delivery import Delivery, record_delivery

    with open_gateway(ctx, home) as gw:
        r = record_delivery(gw, cli_caller(gw, login), Delivery(
            transfer=transfer, frm=frm, to=to, place=place, content=content, quantity=quantity,
            at=parse_instant(at) if at else None, complete=not partial))
    if as_json:
        click.echo(json.dumps({"evidence": r.evidence,
                               "deletion_due": timestamp(r.deletion_due) if r.deletion_due else None,
                               "return_due": timestamp(r.return_due) if r.return_due else None}))
        return
    click.echo(f"納品を記録しました / delivery recorded: {r.evidence}")
    if r.deletion_due:
        click.echo(f"消去証明書の期限 / erasure certificate due: {to_jst(r.deletion_due):%Y-%m-%d %H:%M} JST")
    if r.return_due:
        click.echo(f"媒体・通知書の返却期限 / media and notice due back: {to_jst(r.return_due):%Y-%m-%d %H:%M} JST")


def register(group: click.Group) -> None:
    group.add_command(delivery)
