"""`gateway send|fetch|receipt` and `gateway notice dispatch`: the hand-over from the command line.

The command line is the local operator's channel (the home directory is readable by the service
account only); `--as` names the account on whose behalf the operator acts, and is logged as such.
The portal and the SFTP server call the same operations with their own authentication.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import BinaryIO, cast

import click

from gateway.cli.common import acting_command, as_option, cli_caller, echo_json, home_option, open_gateway, refusals_exit_1
from gateway.core.profiles import PASSWORD_METHODS
from gateway.fsutil import AtomicFile

# Each command imports its own operation when it runs: a contractor's `gateway receipt` then does
# not load the sender's modules (the minimiser, Jinja2 for notices), about 0.1 s of every process.



@click.command("send")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--approval", required=True)
@click.option("--recipient", required=True, help="提供先の組織 id / receiving organisation")
@click.option("--profile", required=True, help="受け渡し方法 / transfer profile")
@click.option("--password-delivery", required=True, help=f"パスワード通知の方法 / {', '.join(PASSWORD_METHODS)}")
@click.option("--notice", "notice_path", type=click.Path(dir_okay=False, path_type=Path),
              help="パスワード通知書（HTML）の出力先 / write the password notice here")
@click.option("--relay-of", help="中継元の受け渡し id（再委託） / transfer relayed to a subcontractor")
@click.option("--record-fiscal-year", type=click.IntRange(1900, 2999),
              help="記録の属する年度（保管期限をそこから数える承認） / the records' fiscal year, where the "
                   "approval counts retention from it")
@click.option("--second-check", "second_check", is_flag=True,
              help="規則がなくても二重確認を求める / hold for a second person's check even if no rule requires it")
@click.option("--max-downloads", type=click.IntRange(1, 1000),
              help="完了ダウンロードの上限（承認・市の設定より厳しくだけできる） / allow at most N complete downloads")
@as_option
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def send_cmd(ctx: click.Context, file: Path, approval: str, recipient: str, profile: str, password_delivery: str,
             notice_path: Path | None, relay_of: str | None, record_fiscal_year: int | None, second_check: bool,
             max_downloads: int | None, login: str | None, home: str | None, as_json: bool) -> None:
    """宛名ファイルを暗号化して送付 / encrypt and send a recipient file under an approval."""
    with open_gateway(ctx, home) as gw:
        from gateway.operations.send import SendRequest, send

        sent = send(gw, cli_caller(gw, login), SendRequest(
            file=file, approval=approval, profile=profile, recipient=recipient,
            password_delivery=password_delivery, parent_transfer=relay_of, notice_to=notice_path,
            record_fiscal_year=record_fiscal_year,
            second_check=second_check, max_downloads=max_downloads,
        ))
    if as_json:
        click.echo(json.dumps({
            "transfer": sent.transfer, "records": sent.sent.record_count, "sha256": sent.sent.sha256,
            "package_sha256": sent.package_sha256, "evidence": sent.evidence, "removed": dict(sent.sent.removed),
            "passphrase": sent.passphrase or None,
            "notice": str(notice_path) if notice_path and not sent.held else None,
            "state": "pending-check" if sent.held else "sent",
        }, ensure_ascii=False))
        return
    if sent.held:
        click.echo(f"二重確認待ちです / held for a second person's check: {sent.transfer}")
        click.echo("確認者が承認するまでデータもパスワード通知書も出ません（gateway second-check approve）。")
        return
    click.echo(f"送付しました / sent: {sent.transfer}")
    click.echo(f"件数 / records: {sent.sent.record_count:,}（元ファイル {sent.source.record_count:,} 件）")
    click.echo(f"SHA-256: {sent.sent.sha256}")
    if notice_path is not None:
        click.echo(f"パスワード通知書 / password notice: {notice_path}（データとは別に届けてください）")
    else:
        click.echo(f"パスワード（一度だけ表示） / passphrase (shown once): {sent.passphrase}")


@click.command("fetch")
@click.argument("transfer")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@as_option
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def fetch_cmd(ctx: click.Context, transfer: str, output: Path, login: str | None, home: str | None, as_json: bool) -> None:
    """暗号化パッケージを受け取る / download an encrypted package."""
    from gateway.operations.receive import download

    with open_gateway(ctx, home) as gw:
        out = _Delivery(output)
        try:
            row = download(gw, cli_caller(gw, login), transfer, cast(BinaryIO, out))
        finally:
            out.discard()
    if as_json:
        click.echo(json.dumps({"transfer": transfer, "package": str(output), "records": row.record_count,
                               "package_sha256": row.package_sha256}))
        return
    click.echo(f"受け取りました / downloaded: {output}（{row.record_count:,} 件, package SHA-256 {row.package_sha256}）")


class _Delivery(AtomicFile):
    """`fetch`'s output: the download is logged only after the package is in place, whole."""

    def delivered(self) -> tuple[int, int]:
        self.commit()
        return self.size, self.size


@click.command("receipt")
@click.argument("transfer")
@click.option("--records", "record_count", required=True, type=int, help="復号して数えた件数 / records decrypted")
@click.option("--sha256", required=True, help="復号したファイルの SHA-256 / of the decrypted file")
@as_option
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def receipt_cmd(ctx: click.Context, transfer: str, record_count: int, sha256: str, login: str | None,
                home: str | None, as_json: bool) -> None:
    """受領確認（件数と SHA-256） / confirm receipt with the record count and SHA-256."""
    with open_gateway(ctx, home) as gw:
        from gateway.operations.receive import confirm_receipt

        receipt = confirm_receipt(gw, cli_caller(gw, login), transfer, record_count=record_count, sha256=sha256)
    if as_json:
        click.echo(json.dumps({"transfer": transfer, "matches": receipt.matches, "evidence": receipt.evidence}))
    elif receipt.matches:
        click.echo(f"受領を確認しました / receipt confirmed: {receipt.evidence}")
    if receipt.matches:
        return
    # A mismatch is recorded (receipt-mismatch) and still exits 1, with or without --json.
    click.echo("件数または SHA-256 が送付時と一致しません。不一致として記録しました。復号し直して確認してください。\n"
               "The record count or SHA-256 differs from what was sent; recorded as a mismatch. "
               "Decrypt again and check.", err=True)
    ctx.exit(1)


@click.group()
def notice() -> None:
    """パスワード通知書 / password notices."""


@notice.command("dispatch")
@click.argument("transfer")
@click.option("--method", required=True, help=f"{', '.join(PASSWORD_METHODS)}")
@click.option("--tracking", help="簡易書留の番号 / registered-mail tracking number")
@acting_command
def dispatch_cmd(ctx: click.Context, transfer: str, method: str, tracking: str | None, login: str | None,
                 home: str | None, as_json: bool) -> None:
    """通知書の発送を記録 / record that the password notice left, apart from the data."""
    with open_gateway(ctx, home) as gw:
        from gateway.operations import notices

        notice_id = notices.dispatch(gw, cli_caller(gw, login), transfer, method=method, tracking=tracking)
    if as_json:
        echo_json({"notice": notice_id, "transfer": transfer, "method": method, "tracking": tracking})
        return
    click.echo(f"発送を記録しました / dispatch recorded: {notice_id}")


def register(group: click.Group) -> None:
    for command in (send_cmd, fetch_cmd, receipt_cmd, notice):
        group.add_command(command)
