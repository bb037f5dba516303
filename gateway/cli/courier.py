"""`gateway courier ...`: media, the 確認書 of every hand-over and return, losses, custody chains.

```
gateway courier write TRANSFER --media cdr|dvd|hdd --serial S -o DIR --as LOGIN
gateway courier handover ITEM --to LOGIN --place P --quantity N --cabinet C [--at T] --as LOGIN
gateway courier return ITEM --to LOGIN --place P --quantity N --cabinet C [--at T] --as LOGIN
gateway courier lost ITEM --place P --circumstances TEXT [--at T] --as LOGIN
gateway courier list [--transfer T] [--outstanding] --as LOGIN
gateway courier show ITEM --as LOGIN
gateway courier extract IMAGE... -o PACKAGE          (the receiver's side; reads the media only)
```
ITEM is a media serial or a password-notice id (N-<transfer>, as printed on the notice).
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from gateway.channels.courier import custody, loss, media, returns
from gateway.cli.check import parse_instant
from gateway.cli.common import as_option, cli_caller, home_option, open_gateway, refusals_exit_1
from gateway.clock import timestamp, to_jst
from gateway.core.custody import MEANS


@click.group("courier")
def courier() -> None:
    """媒体による受け渡し（確認書・返却・紛失） / courier media, custody records, returns, losses."""


@courier.command("write")
@click.argument("transfer")
@click.option("--media", "kind", required=True, type=click.Choice(["cdr", "dvd", "hdd"]))
@click.option("--serial", required=True, help="媒体のシリアル番号 / serial written on the media")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--cabinet", help="作成後に保管する鍵付キャビネット / locked cabinet it is kept in")
@click.option("--capacity", type=click.IntRange(min=1), help="1 枚の容量（バイト、試験用） / bytes per disc (tests)")
@as_option
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def write_cmd(ctx: click.Context, transfer: str, kind: str, serial: str, output: Path, cabinet: str | None,
              capacity: int | None, login: str | None, home: str | None, as_json: bool) -> None:
    """暗号化パッケージを媒体イメージに書き込む / write the encrypted package onto media images."""
    with open_gateway(ctx, home) as gw:
        w = media.write_media(gw, cli_caller(gw, login), transfer, media=kind, serial=serial, out_dir=output,
                              capacity=capacity, cabinet=cabinet)
    if as_json:
        click.echo(json.dumps({"serial": w.serial, "media": w.media, "transfer": w.transfer,
                               "paths": [str(p) for p in w.paths], "pieces": len(w.parts),
                               "package_sha256": w.package_sha256, "package_size": w.package_size}))
        return
    click.echo(f"媒体を作成しました / written: {w.serial}（{len(w.parts)} 枚 / pieces）")
    for p, part in zip(w.paths, w.parts, strict=True):
        click.echo(f"  {part.number}/{part.of}\t{p}")


def _handover_options(fn: Any) -> Any:
    for option in reversed([
        click.argument("item"),
        click.option("--to", "to", required=True, help="受け取る人 / login of the receiver"),
        click.option("--from", "frm", help="渡す人（省略時は --as） / login of the giver"),
        click.option("--at", "at", help="受け渡し日時（JST） / when it changed hands"),
        click.option("--place", required=True, help="場所 / where"),
        click.option("--quantity", required=True, type=click.IntRange(min=0), help="数量（枚） / pieces"),
        click.option("--cabinet", required=True, help="保管する鍵付キャビネット / locked cabinet it goes into"),
        click.option("--means", default="hand", show_default=True, type=click.Choice(sorted(MEANS))),
        click.option("--run", help="便・追跡番号 / courier run or tracking number"),
        click.option("--content", help="情報の内容 / content (default: from the transfer)"),
        click.option("--receipt-no", help="預り証番号 / number of the receiver's receipt"),
        as_option, home_option, click.option("--json", "as_json", is_flag=True),
    ]):
        fn = option(fn)
    return fn


def _request(item: str, to: str, frm: str | None, at: str | None, place: str, quantity: int, cabinet: str,
             means: str, run: str | None, content: str | None, receipt_no: str | None) -> custody.Handover:
    return custody.Handover(item=item, to=to, frm=frm, at=parse_instant(at) if at else None, place=place,
                            quantity=quantity, cabinet=cabinet, means=means, run=run, content=content,
                            receipt_no=receipt_no)


def _done(r: custody.Recorded, as_json: bool, ja: str, en: str) -> None:
    if as_json:
        click.echo(json.dumps({"item": r.item, "event": r.event, "evidence": r.evidence,
                               "return_due": timestamp(r.return_due) if r.return_due else None}))
        return
    due = f"（返却期限 / return by {to_jst(r.return_due):%Y-%m-%d %H:%M} JST）" if r.return_due else ""
    click.echo(f"{ja} / {en}: {r.item} {r.evidence}{due}")


@courier.command("handover")
@_handover_options
@click.pass_context
@refusals_exit_1
def handover_cmd(ctx: click.Context, item: str, to: str, frm: str | None, at: str | None, place: str, quantity: int,
                 cabinet: str, means: str, run: str | None, content: str | None, receipt_no: str | None, login: str | None,
                 home: str | None, as_json: bool) -> None:
    """受渡しを確認書に記録（預り証を含む） / record a hand-over (確認書, with the receipt)."""
    req = _request(item, to, frm, at, place, quantity, cabinet, means, run, content, receipt_no)
    with open_gateway(ctx, home) as gw:
        r = custody.handover(gw, cli_caller(gw, login), req)
    _done(r, as_json, "受渡しを記録しました", "hand-over recorded")


@courier.command("return")
@_handover_options
@click.pass_context
@refusals_exit_1
def return_cmd(ctx: click.Context, item: str, to: str, frm: str | None, at: str | None, place: str, quantity: int,
               cabinet: str, means: str, run: str | None, content: str | None, receipt_no: str | None, login: str | None,
               home: str | None, as_json: bool) -> None:
    """媒体・通知書の返却を記録 / record the return of media or a notice."""
    req = _request(item, to, frm, at, place, quantity, cabinet, means, run, content, receipt_no)
    with open_gateway(ctx, home) as gw:
        r = returns.return_item(gw, cli_caller(gw, login), req)
    _done(r, as_json, "返却を記録しました", "return recorded")


@courier.command("lost")
@click.argument("item")
@click.option("--place", required=True, help="紛失した場所 / where")
@click.option("--circumstances", required=True, help="状況 / what happened")
@click.option("--at", "at", help="紛失（判明）日時 / when")
@as_option
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def lost_cmd(ctx: click.Context, item: str, place: str, circumstances: str, at: str | None, login: str | None,
             home: str | None, as_json: bool) -> None:
    """紛失の事故報告 / report a lost medium or notice (incident report)."""
    with open_gateway(ctx, home) as gw:
        r, assessment = loss.report_loss(gw, cli_caller(gw, login), loss.Loss(
            item=item, place=place, circumstances=circumstances, at=parse_instant(at) if at else None))
    if as_json:
        click.echo(json.dumps({"item": r.item, "event": r.event, "evidence": r.evidence,
                               "assessment": assessment.to_dict()}, ensure_ascii=False))
        return
    click.echo(f"事故報告を記録しました / incident recorded: {r.item} {r.evidence}")
    click.echo(f"評価 / assessment: {assessment.summary_ja}")
    click.echo("速やかに送付元の責任者へ報告し、指示を受けてください。/ Report to the sender's responsible officer now.")


def _chain_json(c: custody.Chain) -> dict[str, Any]:
    def t(v: datetime | None) -> str | None:
        return timestamp(v) if v else None

    return {"item": c.item, "kind": c.kind, "transfer": c.transfer, "approval": c.approval, "media": c.media,
            "quantity": c.quantity, "holder": c.holder, "cabinet": c.cabinet, "lost": c.lost,
            "registered": {**c.registered, "at": t(c.registered["at"])}, "label": c.label,
            "events": [{"event": e.event, "from": e.frm, "to": e.to, "at": t(e.at), "place": e.place,
                        "content": e.content, "quantity": e.quantity, "cabinet": e.cabinet, "means": e.means,
                        "return_due": t(e.return_due), "evidence": e.evidence} for e in c.entries]}


def _who(p: dict[str, str] | None) -> str:
    return "—" if p is None else f"{p['person']} ({p['org']})"


@courier.command("show")
@click.argument("item")
@as_option
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def show_cmd(ctx: click.Context, item: str, login: str | None, home: str | None, as_json: bool) -> None:
    """品目の受渡し履歴 / the custody chain of one item."""
    with open_gateway(ctx, home) as gw:
        c = custody.chain(gw, cli_caller(gw, login), item)
    if as_json:
        click.echo(json.dumps(_chain_json(c), ensure_ascii=False))
        return
    state = "紛失 / LOST" if c.lost else f"保管者 / held by {_who(c.holder)} [{c.cabinet or '—'}]"
    click.echo(f"{c.item}\t{c.kind}\t{c.transfer}\t{state}")
    click.echo(f"  作成・登録 / registered\t{to_jst(c.registered['at']):%Y-%m-%d %H:%M}\t"
               f"{c.registered['person']} ({c.registered['org']})")
    for e in c.entries:
        click.echo(f"  {e.event}\t{to_jst(e.at):%Y-%m-%d %H:%M}\t{_who(e.frm)} → {_who(e.to)}\t{e.place}\t"
                   f"{e.quantity}\t[{e.cabinet or '—'}]\t{e.evidence}")


@courier.command("list")
@click.option("--transfer")
@click.option("--outstanding", is_flag=True, help="返却待ちだけ / only items not yet returned")
@as_option
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def list_cmd(ctx: click.Context, transfer: str | None, outstanding: bool, login: str | None, home: str | None,
             as_json: bool) -> None:
    """媒体・通知書の一覧 / media and notices with their holders."""
    rows: list[dict[str, Any]]
    with open_gateway(ctx, home) as gw:
        if outstanding:
            out = returns.outstanding(gw, cli_caller(gw, login))
            rows = [{"item": o.item, "kind": o.kind, "transfer": o.transfer, "due": timestamp(o.due),
                     "overdue": o.overdue, "holder": None if o.holder is None else
                     {"person": o.holder.person, "org": o.holder.org}} for o in out
                    if transfer is None or o.transfer == transfer]
        else:
            rows = [_chain_json(c) for c in custody.items_of(gw, cli_caller(gw, login), transfer)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        if outstanding:
            flag = "期限超過 / OVERDUE" if r["overdue"] else "返却待ち / out"
            click.echo(f"{flag}\t{r['item']}\t{r['transfer']}\t{r['due']}\t{_who(r['holder'])}")
        else:
            click.echo(f"{r['item']}\t{r['kind']}\t{r['transfer']}\t"
                       f"{'LOST' if r['lost'] else _who(r['holder'])}\t[{r['cabinet'] or '—'}]")


@courier.command("extract")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@refusals_exit_1
def extract_cmd(images: tuple[Path, ...], output: Path, as_json: bool) -> None:
    """媒体イメージからパッケージを取り出す（マウント不要） / join the package from media images."""
    lbl = media.extract(list(images), output)
    if as_json:
        click.echo(json.dumps({"package": str(output), "serial": lbl["serial"], "transfer": lbl["transfer"],
                               "records": lbl["record_count"], "package_sha256": lbl["package_sha256"]}))
        return
    click.echo(f"package: {output}")
    click.echo(f"serial: {lbl['serial']}  transfer: {lbl['transfer']}  records: {lbl['record_count']}")
    click.echo(f"package sha256: {lbl['package_sha256']}")


def register(group: click.Group) -> None:
    group.add_command(courier)
