"""`gateway-client`: the contractor's command line (docs/interface.md, "gateway-client").

    gateway-client receive TRANSFER -o FILE (--p12 F --portal URL | --sftp HOST:PORT) [--key F]
                           [--passphrase-file F] [--package F] [--json]
    gateway-client list | deletion request|certify ... | deliver FILE --transfer T

Exit 0 success, 1 a refused or failed operation (message on stderr, Japanese then English; with
`--json` also the refusal's JSON on stdout), 2 a usage error. Secrets (the package's passphrase,
the PKCS#12 and portal passwords, the key's passphrase) are typed without echo or read from files.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from gateway import deletion_form
from gateway.client import acts
from gateway.client.channel import Channel
from gateway.client.signer import Signer, load
from gateway.clock import Clock
from gateway.crypto.secret_input import secret
from gateway.errors import Invalid
from gateway.exits import refusals_exit_1  # one way to exit 1 with a refusal, as `gateway` does

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_KEY = Path("~/.ssh/id_ed25519")


@dataclass(frozen=True)
class Connection:
    """How to reach the gateway, from the command's options."""

    p12: str | None
    p12_password_file: str | None
    portal: str | None
    password_file: str | None
    sftp: str | None
    host_key: str | None
    known_hosts: str | None
    login: str | None
    key: str | None
    key_passphrase_file: str | None

    def signer(self) -> Signer:
        return load(Path(self.key or DEFAULT_KEY).expanduser(), self.key_passphrase_file)

    def open(self, signer: Signer) -> Channel:
        if (self.p12 is None) == (self.sftp is None):
            raise click.UsageError("--p12 (LGWAN-ASP portal) か --sftp HOST:PORT (VPN) のどちらか一つを指定してください。"
                                   " / give one of --p12 (the portal) or --sftp HOST:PORT (the VPN line).")
        if self.p12 is not None:
            return self._portal()
        return self._sftp(signer)

    def _portal(self) -> Channel:
        from gateway.client.portal import PortalChannel, terminal_context

        if not self.portal:
            raise click.UsageError("--portal https://HOST:PORT（または GATEWAY_PORTAL_URL）を指定してください。"
                                   " / give the portal's address with --portal (or GATEWAY_PORTAL_URL).")
        try:
            p12 = Path(self.p12 or "").read_bytes()
        except OSError as err:
            raise Invalid(f"端末証明書を読めません: {self.p12} ({err.strerror})", f"cannot read {self.p12}: {err.strerror}") \
                from None
        password = secret(self.p12_password_file, "端末証明書のパスワード / PKCS#12 password: ",
                          "端末証明書のパスワード", "PKCS#12 password")
        ctx, login, _org = terminal_context(p12, password)
        portal_password = secret(self.password_file, f"{login} のパスワード / portal password for {login}: ",
                                 "ログインパスワード", "portal password")
        return PortalChannel(self.portal, ctx, self.login or login, portal_password)

    def _sftp(self, signer: Signer) -> Channel:
        from gateway.client.sftp import SftpChannel, host_key_check
        from gateway.client.signer import paramiko_key

        host, _, port_text = (self.sftp or "").rpartition(":")
        if not host or not port_text.isdigit():
            raise click.UsageError("--sftp は HOST:PORT の形で指定してください。 / give --sftp as HOST:PORT.")
        if not self.login:
            raise click.UsageError("--login（SFTP の利用者名）を指定してください。 / give your SFTP login with --login.")
        pinned = None
        if self.host_key is not None:
            try:
                pinned = Path(self.host_key).read_text(encoding="ascii").strip()
            except (OSError, UnicodeDecodeError):
                raise Invalid(f"ホスト鍵を読めません: {self.host_key}", f"cannot read the host key {self.host_key}") from None
        known = Path(self.known_hosts or "~/.ssh/known_hosts").expanduser()
        return SftpChannel(host, int(port_text), self.login, paramiko_key(signer),
                           host_key_check(host, int(port_text), pinned, known))


def connection_options(fn: F) -> F:
    options = [
        click.option("--p12", type=click.Path(dir_okay=False), help="端末証明書（PKCS#12） / terminal certificate"),
        click.option("--p12-password-file", type=click.Path(dir_okay=False),
                     help="PKCS#12 のパスワード（省略時は入力） / else prompted"),
        click.option("--portal", envvar="GATEWAY_PORTAL_URL", help="専用ページの URL / the portal, https://HOST:PORT"),
        click.option("--password-file", type=click.Path(dir_okay=False),
                     help="ログインパスワード（省略時は入力） / portal password, else prompted"),
        click.option("--sftp", metavar="HOST:PORT", help="VPN 回線の SFTP サーバー / the gateway's SFTP server"),
        click.option("--host-key", type=click.Path(dir_okay=False),
                     help="ゲートウェイのホスト公開鍵 / the gateway's SSH host key (else known_hosts)"),
        click.option("--known-hosts", type=click.Path(dir_okay=False), help="known_hosts (default ~/.ssh/known_hosts)"),
        click.option("--login", envvar="GATEWAY_CLIENT_LOGIN", help="利用者名（SFTP） / your login"),
        click.option("--key", type=click.Path(dir_okay=False),
                     help="署名（と SFTP ログイン）に使う SSH 秘密鍵 / your SSH key (default ~/.ssh/id_ed25519)"),
        click.option("--key-passphrase-file", type=click.Path(dir_okay=False), help="鍵のパスフレーズ / key passphrase"),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _connection(kw: dict[str, Any]) -> Connection:
    return Connection(**{name: kw.pop(name) for name in Connection.__dataclass_fields__})


def _acting(kw: dict[str, Any], do: Callable[[Channel, Signer, Clock], dict[str, Any]]) -> dict[str, Any]:
    conn = _connection(kw)
    signer = conn.signer()
    clock = ctx_clock()
    channel = conn.open(signer)
    try:
        return do(channel, signer, clock)
    finally:
        channel.close()


def ctx_clock() -> Clock:
    """The client's clock; an in-process caller (the simulator) hands the root command its own."""
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root().obj if ctx is not None else None
    return (root or {}).get("clock") or Clock()


def _print(value: dict[str, Any] | list[Any], as_json: bool, text: str) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, default=str) if as_json else text)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """受託事業者用クライアント / the contractor's client for the resident-data gateway."""


@main.command()
@click.argument("transfer")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="復号した宛名ファイルの出力先 / where the decrypted file goes")
@click.option("--passphrase-file", type=click.Path(dir_okay=False),
              help="パスワード通知書のパスワード（省略時は入力） / the notice's passphrase, else prompted")
@click.option("--package", "package", type=click.Path(dir_okay=False, path_type=Path),
              help="媒体から取り出したパッケージ（セキュリティ便） / a package read from courier media")
@connection_options
@click.option("--json", "as_json", is_flag=True)
@refusals_exit_1
def receive(transfer: str, output: Path, passphrase_file: str | None, package: Path | None, as_json: bool,
            **kw: Any) -> None:
    """受け取り・復号・件数と SHA-256 の確認・署名付き受領確認 / download, decrypt, count, hash, signed receipt."""
    passphrase = secret(passphrase_file, "パスワード通知書のパスワード / passphrase: ", "パスワード", "passphrase")
    result = _acting(kw, lambda ch, signer, clock: acts.receive(ch, signer, transfer, output, passphrase,
                                                                 clock=clock, package=package))
    _print(result, as_json, f"受け取りました / received: {output}（{result['records']:,} 件、SHA-256 {result['sha256']}）\n"
                            f"署名付き受領確認 / signed receipt: {result.get('evidence')}")
    if result.get("matches") is False:
        click.echo("件数または SHA-256 が送付時と一致しません。不一致として記録されました。市に連絡してください。\n"
                   "The record count or SHA-256 differs from what was sent; recorded as a mismatch. Tell the city.",
                   err=True)
        sys.exit(1)


@main.command("list")
@connection_options
@click.option("--json", "as_json", is_flag=True)
@refusals_exit_1
def list_(as_json: bool, **kw: Any) -> None:
    """受け渡しと期限の一覧 / your transfers and their deadlines."""
    rows = _acting(kw, lambda ch, signer, clock: {"transfers": ch.transfers()})["transfers"]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, default=str))
        return
    click.echo("受け渡し / transfer\t件数 / records\t状態 / state\t受領期限 / receipt due\t消去期限 / erasure due")
    for r in rows:
        click.echo(f"{r['id']}\t{r['records']:,}\t{r['state']}\t{_day(r.get('receipt_due'))}\t"
                   f"{_day(r.get('contractor_deletion_due'))}")


def _day(value: Any) -> str:
    return str(value)[:16].replace("T", " ") if value else "-"


@main.group()
def deletion() -> None:
    """消去依頼と消去証明書（署名付き） / signed deletion requests and erasure certificates."""


@deletion.command("request")
@click.argument("transfer")
@deletion_form.request_options
@connection_options
@click.option("--json", "as_json", is_flag=True)
@refusals_exit_1
def deletion_request(transfer: str, items: str, media: str, quantity: int, method: str, planned_date: Any,
                     as_json: bool, **kw: Any) -> None:
    """消去依頼を提出 / file a signed deletion request."""
    answer = _acting(kw, lambda ch, signer, clock: acts.request_deletion(
        ch, signer, transfer, items=items, media=media, quantity=quantity, method=method,
        planned_date=planned_date.date(), clock=clock))
    _print({"deletion": answer.get("deletion"), "transfer": transfer, "attestation": answer.get("attestation")},
           as_json, f"消去依頼を提出しました / deletion request filed: {answer.get('deletion')}")


def _person(text: str) -> dict[str, str]:
    name, _, title = text.partition(",")
    if not name.strip() or not title.strip():
        raise click.BadParameter("「氏名,役職」の形で記入してください / write it as 'name,title'.")
    return {"name": name.strip(), "title": title.strip()}


@deletion.command("certify")
@click.argument("deletion_id")
@click.option("--transfer", required=True, help="受け渡し / the transfer whose copies were erased")
@deletion_form.certificate_options
@connection_options
@click.option("--json", "as_json", is_flag=True)
@refusals_exit_1
def deletion_certify(deletion_id: str, transfer: str, erased_at: str, media_manufacturer: str, media_model: str,
                     media_serial: str, sanitisation: str, technique: str, tool: str, verification: str,
                     sanitised_by: str, verified_by: str, place: str, as_json: bool, **kw: Any) -> None:
    """消去証明書を提出 / file a signed erasure certificate."""
    certificate = acts.Certificate(
        erased_at=_instant(erased_at), media_manufacturer=media_manufacturer, media_model=media_model,
        media_serial_or_location=media_serial, sanitisation=sanitisation, technique=technique, tool=tool,
        verification=verification, sanitised_by=_person(sanitised_by), verified_by=_person(verified_by), place=place)
    answer = _acting(kw, lambda ch, signer, clock: acts.certify(ch, signer, transfer, deletion_id, certificate,
                                                                 clock=clock))
    _print({"deletion": deletion_id, "evidence": answer.get("evidence"), "attestation": answer.get("attestation")},
           as_json, f"消去証明書を提出しました / erasure certificate filed: {answer.get('evidence')}")


def _instant(text: str) -> Any:
    from datetime import datetime

    from gateway.clock import JST

    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("日時は 2020-09-10T10:00 の形で指定してください / use e.g. 2020-09-10T10:00") from None
    return at if at.tzinfo else at.replace(tzinfo=JST)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--transfer", required=True, help="納品する受け渡し / the transfer it is delivered under")
@click.option("--name", help="納品物の名前（既定はファイル名） / the deliverable's name (default: the file's)")
@connection_options
@click.option("--json", "as_json", is_flag=True)
@refusals_exit_1
def deliver(file: Path, transfer: str, name: str | None, as_json: bool, **kw: Any) -> None:
    """納品して署名付きで申告 / upload a deliverable and declare it, signed."""
    result = _acting(kw, lambda ch, signer, clock: acts.deliver(ch, signer, transfer, file, name=name, clock=clock))
    _print(result, as_json, f"納品しました / delivered: {result['name']}（{result['size']:,} bytes, "
                            f"SHA-256 {result['sha256']}）; 申告 / declaration {result.get('evidence')}")


@main.group()
def incident() -> None:
    """事故の報告 / incidents."""


@incident.command("report")
@click.option("--transfer", help="関係する受け渡し / the transfer concerned")
@click.option("--incident", "incident_id", help="市が求めた報告への回答 / answering the city's open incident")
@click.option("--content", required=True, help="内容 / what happened")
@click.option("--records", type=click.IntRange(0, 1_000_000_000), required=True, help="件数 / records concerned")
@click.option("--place", required=True, help="発生場所 / where")
@click.option("--circumstances", required=True, help="発生状況 / how")
@click.option("--occurred-at", required=True, help="発生日時 / when, e.g. 2020-09-10T10:00")
@connection_options
@click.option("--json", "as_json", is_flag=True)
@refusals_exit_1
def incident_report(transfer: str | None, incident_id: str | None, content: str, records: int, place: str,
                    circumstances: str, occurred_at: str, as_json: bool, **kw: Any) -> None:
    """事故を報告 / report an incident (over the portal or the VPN line)."""
    report = {"transfer": transfer, "incident": incident_id, "content": content, "records": records, "place": place,
              "circumstances": circumstances, "occurred_at": _instant(occurred_at).isoformat()}

    result = _acting(kw, lambda ch, signer, clock: ch.report_incident(report))
    _print(result, as_json, f"報告しました / reported: {result.get('incident')}")


if __name__ == "__main__":  # pragma: no cover
    main()
