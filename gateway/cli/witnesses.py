"""`gateway witness add|list|remove|submit`: the witnesses the gateway's checkpoints go to."""
from __future__ import annotations

import json
from typing import Any

import click

from gateway.cli.common import cli_actor, home_option, open_gateway, reading_gateway, refusals_exit_1


@click.group()
def witness() -> None:
    """ウィットネス（チェックポイントの連署者） / witnesses that cosign the log's checkpoints."""


def _outcome_line(o: dict[str, Any]) -> str:
    if o["error"]:
        return (f"  {o['witness']}: 未連署 / not cosigned（連署済みサイズ / cosigned up to {o['size']}）:"
                f" {o['error']}\n"
                "  gateway serve が再試行します / `gateway serve` keeps retrying it")
    done = ", ".join(str(s) for s in o["cosigned"]) or "なし / none (already up to date)"
    return f"  {o['witness']}: 連署 / cosigned {done}（サイズ / size {o['size']}）"


@witness.command("add")
@click.argument("url")
@click.option("--key", "vkey", required=True, metavar="VKEY",
              help="ウィットネスの検証鍵（audit witness keygen が表示するもの） / the witness's verifier key")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def add(ctx: click.Context, url: str, vkey: str, home: str | None, as_json: bool) -> None:
    """ウィットネスを登録し、最初のチェックポイントを送る / configure a witness and submit to it at once."""
    from gateway.operations.witnesses import add as run

    with open_gateway(ctx, home) as gw:
        added = run(gw, url, vkey, cli_actor())
    if as_json:
        click.echo(json.dumps(added.to_json(), ensure_ascii=False))
        return
    click.echo(f"登録しました / added: {added.name} {added.url}")
    if added.first is not None:
        click.echo(_outcome_line(added.first.to_json()))


@witness.command("list")
@click.option("--all", "show_removed", is_flag=True, help="削除済みも表示 / include removed witnesses")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def list_(ctx: click.Context, show_removed: bool, home: str | None, as_json: bool) -> None:
    """登録済みのウィットネスと連署の状況 / configured witnesses and how far each has cosigned."""
    from gateway.operations.witnesses import listing

    with reading_gateway(ctx, home) as gw:
        rows = listing(gw, removed=show_removed)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        state = "removed " + r["removed_at"] if r["removed_at"] else (
            f"error ({r['failures']}x): {r['last_error']}" if r["last_error"] else f"ok {r['last_ok_at'] or '-'}")
        click.echo(f"{r['witness']}  {r['url']}  size {r['size']}  {state}\n  {r['key']}")


@witness.command("remove")
@click.argument("name")
@home_option
@click.pass_context
@refusals_exit_1
def remove(ctx: click.Context, name: str, home: str | None) -> None:
    """ウィットネスの登録を外す（過去の連署は残る） / stop submitting to a witness (its cosignatures stay)."""
    from gateway.operations.witnesses import remove as run

    with open_gateway(ctx, home) as gw:
        run(gw, name, cli_actor())
    click.echo(f"外しました / removed: {name}")


@witness.command("submit")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def submit(ctx: click.Context, home: str | None, as_json: bool) -> None:
    """未連署のチェックポイントを今すぐ送る / send what is pending now (without `gateway serve`)."""
    from gateway.operations.witnesses import submit_now

    with open_gateway(ctx, home) as gw:
        outcomes = [o.to_json() for o in submit_now(gw)]
    if as_json:
        click.echo(json.dumps(outcomes, ensure_ascii=False))
    else:
        for o in outcomes:
            click.echo(_outcome_line(o))
    if any(o["error"] for o in outcomes):
        ctx.exit(1)


def register(group: click.Group) -> None:
    group.add_command(witness)
