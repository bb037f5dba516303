"""`gateway second-check list|show|approve|reject`: the second person's check of a held send."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gateway.cli.common import acting_command, cli_caller, echo_json, open_gateway


@click.group("second-check")
def second_check() -> None:
    """二重確認（上長承認）/ the second person's check of a held send."""


@second_check.command("list")
@acting_command
def list_cmd(ctx: click.Context, login: str | None, home: str | None, as_json: bool) -> None:
    """確認待ちの送付 / sends waiting for your check."""
    from gateway.operations import second_check as ops

    with open_gateway(ctx, home) as gw:
        rows = ops.pending(gw, cli_caller(gw, login))
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("確認待ちの送付はありません / no send waits for your check.")
    for r in rows:
        click.echo(f"{r['transfer']}  {r['approval']}  → {r['recipient']['org']}  {r['channel']}  "
                   f"{r['record_count']:,} 件  送付者 {r['sender']}  ({', '.join(r['reasons'])})")


@second_check.command("show")
@click.argument("transfer")
@acting_command
def show_cmd(ctx: click.Context, transfer: str, login: str | None, home: str | None, as_json: bool) -> None:
    """確認する内容（個人データは表示しない） / what the checker sees (never a record)."""
    from gateway.operations import second_check as ops

    with open_gateway(ctx, home) as gw:
        row = ops.show(gw, cli_caller(gw, login), transfer)
    if as_json:
        echo_json(row)
        return
    _echo(row)


@second_check.command("approve")
@click.argument("transfer")
@click.option("--reason", required=True, help="確認の所見 / what was checked")
@click.option("--notice", "notice_path", type=click.Path(dir_okay=False, path_type=Path),
              help="パスワード通知書（HTML）の出力先 / write the password notice here")
@acting_command
def approve_cmd(ctx: click.Context, transfer: str, reason: str, notice_path: Path | None, login: str | None,
                home: str | None, as_json: bool) -> None:
    """承認して送付を解放 / approve: release the package and the password notice."""
    _decide(ctx, transfer, True, reason, notice_path, login, home, as_json)


@second_check.command("reject")
@click.argument("transfer")
@click.option("--reason", required=True, help="差戻しの理由 / why it must not go")
@acting_command
def reject_cmd(ctx: click.Context, transfer: str, reason: str, login: str | None, home: str | None,
               as_json: bool) -> None:
    """差戻し（パッケージは直ちに消去） / reject: the package is crypto-erased at once."""
    _decide(ctx, transfer, False, reason, None, login, home, as_json)


def _decide(ctx: click.Context, transfer: str, approve: bool, reason: str, notice_path: Path | None,
            login: str | None, home: str | None, as_json: bool) -> None:
    from gateway.operations import second_check as ops

    with open_gateway(ctx, home) as gw:
        done = ops.decide(gw, cli_caller(gw, login), transfer, approve=approve, reason=reason, notice_to=notice_path)
    if as_json:
        echo_json({"transfer": done.transfer, "approved": done.approved, "evidence": done.evidence,
                   "passphrase": done.passphrase or None, "notice": str(done.notice) if done.notice else None})
        return
    if not approve:
        click.echo(f"差し戻しました。パッケージは消去しました / rejected and erased: {done.transfer}")
        return
    click.echo(f"承認しました。送付を解放しました / approved and released: {done.transfer}")
    if done.notice is not None:
        click.echo(f"パスワード通知書 / password notice: {done.notice}（データとは別に届けてください）")
    else:
        click.echo(f"パスワード（一度だけ表示） / passphrase (shown once): {done.passphrase}")


def _echo(r: dict[str, Any]) -> None:
    click.echo(f"受け渡し / transfer: {r['transfer']}（{r['state']}）")
    click.echo(f"承認 / approval: {r['approval']}")
    click.echo(f"提供先 / recipient: {r['recipient']['name']}（{r['recipient']['org']}）")
    click.echo(f"経路 / channel: {r['channel']}（{r['profile']}）")
    click.echo(f"件数 / records: {r['record_count']:,}")
    click.echo(f"項目 / columns: {', '.join(r['columns'])}")
    removed = ", ".join(f"{k}: {v}" for k, v in r["removed"].items()) or "なし / none"
    click.echo(f"除外した行 / excluded rows: {removed}")
    click.echo(f"SHA-256: {r['sha256']}")
    click.echo(f"送付者 / sender: {r['sender']}  確認者 / approvers: {', '.join(r['approvers'])}")
    click.echo(f"理由 / why held: {', '.join(r['reasons'])}")


def register(group: click.Group) -> None:
    group.add_command(second_check)
