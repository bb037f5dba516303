"""`gateway retention sweep|due|prune-log` and `gateway deletion request|decide|certify`."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import click

from gateway import deletion_form
from gateway.cli.check import parse_instant
from gateway.cli.common import as_option, cli_caller, home_option, open_gateway, refusals_exit_1
from gateway.clock import FixedClock, to_jst
from gateway.errors import Invalid
from gateway.retention import deletion
from gateway.retention.reminders import reminders
from gateway.retention.sweep import sweep

LABELS = {"receipt": "受領確認", "gateway-erasure": "ゲートウェイ上の消去", "erasure-certificate": "受託者の消去証明"}


@click.group()
def retention() -> None:
    """保管期間と消去 / retention windows and erasure."""


@retention.command("sweep")
@click.option("--now", "now_text", help="この日時として実行（試験・リハーサル用） / run as of this time")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def sweep_cmd(ctx: click.Context, now_text: str | None, home: str | None, as_json: bool) -> None:
    """期限を過ぎたコピーを消去し、証跡を残す / erase expired copies and write erasure evidence."""
    clock = FixedClock(parse_instant(now_text)) if now_text else None
    with open_gateway(ctx, home, clock) as gw:
        result = sweep(gw)
    rotation = result.rotation.to_dict() if result.rotation else None
    if as_json:
        click.echo(json.dumps({"erased": result.erased, "orphans_removed": result.orphans_removed,
                               "kek_rotation": rotation}))
        return
    click.echo(f"消去 / erased: {len(result.erased)} 件 {' '.join(result.erased)}")
    if rotation is not None:
        click.echo(f"鍵暗号化鍵の更新 / KEK rotated: 世代 generation {rotation['generation']}, "
                   f"再ラップ re-wrapped {rotation['rewrapped']}, 破棄 destroyed {rotation['destroyed']}")


@retention.command("prune-log")
@click.option("--now", "now_text", help="この日時として実行（試験・リハーサル用） / run as of this time")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def prune_log_cmd(ctx: click.Context, now_text: str | None, home: str | None, as_json: bool) -> None:
    """保存期間を過ぎたログと証跡を、署名付きの削除記録を残して削除 / prune the log and evidence past
    their window ([retention] log_years in $GATEWAY_HOME/gateway.toml, default 10), with a signed
    statement of what was pruned."""
    from gateway.retention.log_pruning import prune_log  # only this command pays for loading it

    clock = FixedClock(parse_instant(now_text)) if now_text else None
    with open_gateway(ctx, home, clock) as gw:
        result = prune_log(gw)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
        return
    start = f"{to_jst(result.window_start):%Y-%m-%d %H:%M} JST"
    if result.statement is not None:
        r, removed = result.statement["range"], result.statement["removed"]
        click.echo(f"削除 / pruned: ログ {r['first']}〜{r['last']}（{removed['entries']:,} 件、"
                   f"証跡文書 {removed['evidence_documents']:,} 件、{start} より前）"
                   f" / entries {r['first']}-{r['last']} ({removed['entries']:,} entries,"
                   f" {removed['evidence_documents']:,} evidence documents, before {start})")
        click.echo(f"削除記録 / statement: {result.statement['id']}（ログ / entry {result.log_seq}）")
    else:
        click.echo(f"削除なし / nothing pruned（保存期間 {result.log_years} 年、{start} より前の記録のみ対象"
                   f" / window {result.log_years} years, only records before {start}）")
    if result.kept_from is not None:
        click.echo(f"保存 / kept from entry {result.kept_from.seq}: {result.kept_from.ja} / {result.kept_from.en}")


@retention.command("due")
@click.option("--within", "days", type=click.IntRange(min=0), default=7, show_default=True, help="日数 / days ahead")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def due_cmd(ctx: click.Context, days: int, home: str | None, as_json: bool) -> None:
    """期限が近い・過ぎた手続き / deadlines coming up or passed."""
    with open_gateway(ctx, home) as gw:
        items = reminders(gw, within=timedelta(days=days))
    if as_json:
        click.echo(json.dumps([{"kind": r.kind, "transfer": r.transfer, "approval": r.approval,
                                "due": r.due.isoformat(), "overdue": r.overdue} for r in items]))
        return
    for r in items:
        flag = "期限超過 / OVERDUE" if r.overdue else "期限前 / due"
        click.echo(f"{flag}\t{to_jst(r.due):%Y-%m-%d %H:%M}\t{LABELS[r.kind]} / {r.kind}\t{r.transfer}\t{r.approval}")


@click.group("deletion")
def deletion_group() -> None:
    """受託者の消去依頼と消去証明 / the contractor's deletion request and erasure certificate."""


@deletion_group.command("request")
@click.argument("transfer")
@deletion_form.request_options
@as_option
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def request_cmd(ctx: click.Context, transfer: str, items: str, media: str, quantity: int, method: str,
                planned_date: datetime, login: str | None, home: str | None, as_json: bool) -> None:
    """消去依頼を提出 / file a deletion request."""
    with open_gateway(ctx, home) as gw:
        deletion_id = deletion.request(gw, cli_caller(gw, login), transfer, deletion.DeletionRequest(
            items=items, media=media, quantity=quantity, method=method, planned_date=planned_date.date()))
    if as_json:
        click.echo(json.dumps({"deletion": deletion_id, "transfer": transfer}))
        return
    click.echo(f"消去依頼を受け付けました / deletion request filed: {deletion_id}")


@deletion_group.command("decide")
@click.argument("deletion_id")
@click.option("--approve/--reject", required=True)
@click.option("--witness", help="立会人 / witness")
@click.option("--reason")
@as_option
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def decide_cmd(ctx: click.Context, deletion_id: str, approve: bool, witness: str | None, reason: str | None,
               login: str | None, home: str | None, as_json: bool) -> None:
    """市が消去依頼を承認・却下 / the city approves or rejects a request."""
    with open_gateway(ctx, home) as gw:
        deletion.decide(gw, cli_caller(gw, login), deletion_id, approve=approve, witness=witness, reason=reason)
    if as_json:
        click.echo(json.dumps({"deletion": deletion_id, "approved": approve}))
        return
    click.echo("承認しました / approved" if approve else "却下しました / rejected")


@deletion_group.command("acknowledge")
@click.argument("deletion_id")
@click.option("--accept/--reject", default=True, show_default=True)
@click.option("--note", help="所見 / remarks")
@as_option
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def acknowledge_cmd(ctx: click.Context, deletion_id: str, accept: bool, note: str | None, login: str | None,
                    home: str | None, as_json: bool) -> None:
    """委託先（乙）が再委託先の消去証明書を受領 / the contractor receives its subcontractor's certificate."""
    from gateway.retention.subcontract import acknowledge

    with open_gateway(ctx, home) as gw:
        evidence = acknowledge(gw, cli_caller(gw, login), deletion_id, accept=accept, note=note)
    if as_json:
        click.echo(json.dumps({"deletion": deletion_id, "evidence": evidence, "accepted": accept}))
        return
    click.echo(f"受領を記録しました / acknowledged: {evidence}")


def _person(text: str) -> deletion.Person:
    name, _, title = text.partition(",")
    if not name.strip() or not title.strip():
        raise Invalid("「氏名,役職」の形で記入してください。", "write it as 'name,title'.")
    return deletion.Person(name.strip(), title.strip())


@deletion_group.command("certify")
@click.argument("deletion_id")
@deletion_form.certificate_options
@as_option
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def certify_cmd(ctx: click.Context, deletion_id: str, erased_at: str, media_manufacturer: str, media_model: str,
                media_serial: str, sanitisation: str, technique: str, tool: str, verification: str,
                sanitised_by: str, verified_by: str, place: str, login: str | None, home: str | None, as_json: bool) -> None:
    """消去証明書を提出 / file the erasure certificate."""
    with open_gateway(ctx, home) as gw:
        evidence = deletion.certify(gw, cli_caller(gw, login), deletion_id, deletion.ErasureCertificate(
            erased_at=parse_instant(erased_at), media_manufacturer=media_manufacturer, media_model=media_model,
            media_serial_or_location=media_serial, sanitisation=sanitisation, technique=technique, tool=tool,
            verification=verification, sanitised_by=_person(sanitised_by), verified_by=_person(verified_by),
            place=place))
    if as_json:
        click.echo(json.dumps({"deletion": deletion_id, "evidence": evidence}))
        return
    click.echo(f"消去証明を受け付けました / erasure certificate filed: {evidence}")


def register(group: click.Group) -> None:
    group.add_command(retention)
    group.add_command(deletion_group)
