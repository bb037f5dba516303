"""`gateway init` and `gateway demo`."""
from __future__ import annotations

import json

import click

from gateway import installation
from gateway.cli.common import home_option, refusals_exit_1, resolve_home
from gateway.clock import from_environment


@click.command()
@home_option
@click.option("--kek-backend", type=click.Choice(["file", "pkcs11"]),
              help="鍵暗号化鍵の保管先（既定: file） / where the key-encryption key lives (default: file)")
@click.option("--kek-module", help="PKCS#11 モジュールのパス / the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so)")
@click.option("--kek-token-label", help="HSM トークンのラベル / the token's label")
@click.option("--kek-pin-env", help="PIN を入れた環境変数の名前 / environment variable holding the PIN")
@click.option("--kek-pin-file", help="PIN を入れたファイル / file holding the PIN")
@click.option("--kek-key-label", help="トークン内の鍵の名前の接頭辞（既定: gateway-kek） / prefix of the key objects' labels")
@click.option("--hostname", "hostnames", multiple=True, metavar="NAME",
              help="ポータルの証明書に入れるホスト名・IP（複数可） / a host name or address the portal is reached by (repeatable)")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def init(ctx: click.Context, home: str | None, kek_backend: str | None, kek_module: str | None,
         kek_token_label: str | None, kek_pin_env: str | None, kek_pin_file: str | None, kek_key_label: str | None,
         hostnames: tuple[str, ...], as_json: bool) -> None:
    """データベース・鍵・証明書を作成（何度実行しても安全） / create database and keys; idempotent."""
    kek = None
    if kek_backend is not None:
        from gateway.crypto.kek.config import DEFAULT_KEY_LABEL, KekConfig

        kek = KekConfig(backend=kek_backend, module=kek_module, token_label=kek_token_label,
                        pin_env=kek_pin_env, pin_file=kek_pin_file, key_label=kek_key_label or DEFAULT_KEY_LABEL)
    result = installation.init(resolve_home(ctx, home), at=from_environment().now(), kek=kek, hostnames=hostnames)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo(f"ゲートウェイのホーム / gateway home: {result['home']}")
    click.echo(f"スキーマ / schema revision: {result['schema']}")
    if result["profiles_added"]:
        click.echo(f"登録した受け渡し方法 / profiles registered: {', '.join(result['profiles_added'])}")  # type: ignore[arg-type]
    if hostnames:
        click.echo(f"ポータルの証明書の名前 / the portal certificate names: {', '.join(result['server_names'])}")  # type: ignore[arg-type]




@click.command()
@click.option("--records", type=click.IntRange(min=1), help="宛名の件数（既定: 実規模 305,115） / scale down")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def demo(ctx: click.Context, records: int | None, home: str | None, as_json: bool) -> None:
    """久留米市 2020 年の給付金の受け渡しを実規模で再現し監査 / replay Kurume 2020 at full size and audit it."""
    from datetime import datetime

    from gateway.simulate.runner import simulate
    from gateway.simulate.scenario import load

    out = resolve_home(ctx, home).root / "demo" / f"kurume-2020-{datetime.now():%Y%m%d-%H%M%S}"
    result = simulate(load("kurume-2020"), out, records=records, seed=2020, faults=[],
                      echo=(lambda _: None) if as_json else click.echo)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo("")
    click.echo(f"久留米市 2020: {result['records']:,} 件、受け渡し {result['transfers']} 件"
               f"（{', '.join(result['channels'])}）/ {result['seconds']} s")
    verdict = "検証成功 / verified" if result["verified"] else "検証失敗 / NOT verified"
    findings = ", ".join(result["findings"]) or "なし / none"
    click.echo(f"独立監査 / audit: {verdict}; 指摘 / findings: {findings}")
    click.echo(f"監査報告（HTML） / audit report: {result['report']}")
    click.echo(f"証跡バンドル / evidence bundle: {result['bundle']}  (audit verify {result['bundle']})")
    g = f"gateway --home {out / 'home'}"
    click.echo(f"記録の確認 / browse the log: {g} log")
    # The simulation's people are gone with their terminals; an officer is enrolled as in any city.
    click.echo("ポータルで閲覧（情報セキュリティ担当として） / browse it in the portal as a security officer:\n"
               f"  {g} user add auditor --org kurume --role security-officer --name 監査担当\n"
               f"  {g} user issue-password auditor\n"
               f"  {g} terminal issue auditor -o {out / 'terminal-auditor'}\n"
               f"  {g} serve --portal-port 8443\n"
               f"  → https://127.0.0.1:8443/ （.p12 をブラウザに取り込み、{out / 'home' / 'keys' / 'ca.crt'} を信頼 / "
               "import the .p12 into the browser and trust that CA）")
    if not result["verified"] or result["findings"]:
        ctx.exit(1)


def register(group: click.Group) -> None:
    group.add_command(init)
    group.add_command(demo)
