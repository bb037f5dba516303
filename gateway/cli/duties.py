"""`gateway duty record|status`: the contract compliance ledger (立入調査, 研修実施報告, 誓約書, ...).

```
gateway duty record APPROVAL --duty ID --on DATE --means TEXT [--handler LOGIN]
                    [--reason R --content C --data D --supervision S] --as LOGIN [--json]
gateway duty status APPROVAL [--json]
```
"""
from __future__ import annotations

import json

import click

from gateway.cli.check import parse_instant
from gateway.cli.common import as_option, cli_caller, home_option, open_gateway, refusals_exit_1
from gateway.clock import timestamp, to_jst


@click.group("duty")
def duty() -> None:
    """契約上の義務（立入調査・研修実施報告・誓約書等） / the contract's recurring duties."""


@duty.command("record")
@click.argument("approval_id")
@click.option("--duty", "duty_id", required=True, help="義務の id / the duty's id in the approval")
@click.option("--on", "on", required=True, help="実施日（JST） / the day it was done")
@click.option("--means", required=True, help="根拠の書面・記録 / the report or record it rests on")
@click.option("--handler", help="取扱者（誓約書など取扱者ごとの義務） / the handler, for a per-handler duty")
@click.option("--reason", help="再委託の理由 / a subcontract application's reason")
@click.option("--content", help="再委託の内容 / what is subcontracted")
@click.option("--data", "data_items", help="再委託先が取り扱う情報 / the data the subcontractor handles")
@click.option("--supervision", help="再委託先の監督の方法 / how the contractor supervises it")
@as_option
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def record_cmd(ctx: click.Context, approval_id: str, duty_id: str, on: str, means: str, handler: str | None,
               reason: str | None, content: str | None, data_items: str | None, supervision: str | None,
               login: str | None, home: str | None, as_json: bool) -> None:
    """義務の履行を記録 / record that a duty was done."""
    from gateway.operations.duties import record

    with open_gateway(ctx, home) as gw:
        application = {"reason": reason or "", "content": content or "", "data": data_items or "",
                       "supervision": supervision or ""}
        evidence = record(gw, cli_caller(gw, login), approval_id, duty_id, on=parse_instant(on), means=means,
                          handler=handler, application=application)
    if as_json:
        click.echo(json.dumps({"approval": approval_id, "duty": duty_id, "evidence": evidence}))
        return
    click.echo(f"記録しました / recorded: {evidence}")


@duty.command("status")
@click.argument("approval_id")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def status_cmd(ctx: click.Context, approval_id: str, home: str | None, as_json: bool) -> None:
    """義務ごとの期限と履行状況（未履行・期限超過を含む） / each duty's slots, due dates and state."""
    from gateway.operations.duties import status

    with open_gateway(ctx, home) as gw:
        rows = status(gw, approval_id)
    if as_json:
        click.echo(json.dumps([{"duty": r.slot.duty, "kind": r.kind, "slot": r.slot.key, "handler": r.slot.handler,
                                "due": timestamp(r.slot.due), "met": r.met, "overdue": r.overdue} for r in rows],
                              ensure_ascii=False))
        return
    for r in rows:
        state = "履行済 / done" if r.met else ("期限超過 / OVERDUE" if r.overdue else "未了 / pending")
        click.echo(f"{r.slot.duty}\t{r.slot.key}\t{to_jst(r.slot.due):%Y-%m-%d}\t{state}")


def register(group: click.Group) -> None:
    group.add_command(duty)
