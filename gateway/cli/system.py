"""`gateway init` and `gateway demo`."""
from __future__ import annotations

import json
from pathlib import Path

import click

from gateway import installation
from gateway.cli.common import home_option, refusals_exit_1, resolve_home
from gateway.cli.simulate import REHEARSAL_DB_HELP
from gateway.errors import Invalid


@click.command()
@home_option
@click.option("--kek-backend", type=click.Choice(["file", "pkcs11"]),
              help="鍵暗号化鍵の保管先（既定: file） / where the key-encryption key lives (default: file)")
@click.option("--kek-module", help="PKCS#11 モジュールのパス / the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so)")
@click.option("--kek-token-label", help="HSM トークンのラベル / the token's label")
@click.option("--kek-pin-env", help="PIN を入れた環境変数の名前 / environment variable holding the PIN")
@click.option("--kek-pin-file", help="PIN を入れたファイル / file holding the PIN")
@click.option("--kek-key-label", help="トークン内の鍵の名前の接頭辞（既定: gateway-kek） / prefix of the key objects' labels")
@click.option("--rehearsal", is_flag=True,
              help="試験・リハーサル用のホーム（GATEWAY_FAKE_NOW を受け付け、ログにその旨を記録） / a home for tests "
                   "and rehearsals: accepts GATEWAY_FAKE_NOW and says so in its log")
@click.option("--reinitialise", is_flag=True,
              help="以前のログが失われたホームで新しいログを始める（切れた末尾を署名付きで記録） / start a new log "
                   "where an earlier one was lost, recording the head it cuts off, signed")
@click.option("--previous-head", metavar="SIZE:HASH|unknown",
              help="切れたログの末尾（証跡バンドルや立会人から） / the head of the lost log (from a bundle or a witness)")
@click.option("--log-origin", "origin",
              help="ログの origin（初回のみ、以後変更不可。例: kurume.example.jp/gateway） / the log's C2SP origin, "
                   "fixed at the first init (default: <host name>/gateway-<installation id>)")
@click.option("--hostname", "hostnames", multiple=True, metavar="NAME",
              help="ポータルの証明書に入れるホスト名・IP（複数可） / a host name or address the portal is reached by (repeatable)")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def init(ctx: click.Context, home: str | None, kek_backend: str | None, kek_module: str | None,
         kek_token_label: str | None, kek_pin_env: str | None, kek_pin_file: str | None, kek_key_label: str | None,
         rehearsal: bool, reinitialise: bool, previous_head: str | None, origin: str | None,
         hostnames: tuple[str, ...], as_json: bool) -> None:
    """データベース・鍵・証明書を作成（何度実行しても安全） / create database and keys; idempotent."""
    from gateway.ledger.head_record import parse_operator

    kek = None
    if kek_backend is not None:
        from gateway.crypto.kek.config import DEFAULT_KEY_LABEL, KekConfig

        kek = KekConfig(backend=kek_backend, module=kek_module, token_label=kek_token_label,
                        pin_env=kek_pin_env, pin_file=kek_pin_file, key_label=kek_key_label or DEFAULT_KEY_LABEL)
    if previous_head is not None and not reinitialise:
        raise Invalid("--previous-head は --reinitialise と一緒に指定してください。",
                      "--previous-head goes with --reinitialise.")
    from gateway.operations.operators import os_user

    obj = ctx.find_root().obj if isinstance(ctx.find_root().obj, dict) else {}
    result = installation.init(resolve_home(ctx, home), rehearsal=rehearsal, kek=kek, reinitialise=reinitialise,
                               previous_head=parse_operator(previous_head) if previous_head else None,
                               origin=origin, operator=obj.get("os_user") or os_user(), hostnames=hostnames)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo(f"ゲートウェイのホーム / gateway home: {result['home']}")
    click.echo(f"スキーマ / schema revision: {result['schema']}")
    click.echo(f"ログの origin / log origin: {result['origin']}")
    if result["rehearsal"]:
        click.echo("リハーサル用のホームです（記録の時刻は実際の時刻ではありません） / "
                   "a rehearsal home: the times it records are not real")
    if result["reinitialised"]:
        click.echo("再初期化しました。切れたログの末尾を署名付きで記録しました / re-initialised: the head of the "
                   "lost log is recorded, signed, in the new log")
    if result["profiles_added"]:
        click.echo(f"登録した受け渡し方法 / profiles registered: {', '.join(result['profiles_added'])}")  # type: ignore[arg-type]
    if hostnames:
        click.echo(f"ポータルの証明書の名前 / the portal certificate names: {', '.join(result['server_names'])}")  # type: ignore[arg-type]




def _hand_over(home: Path, ctx: click.Context) -> None:
    """Whoever ran the demo administers its home afterwards (the rehearsal ran as `simulator`)."""
    from gateway.home import Home
    from gateway.operations import operators
    from gateway.service import Gateway
    from gateway.simulate.command_line import OPERATOR
    from gateway.store.operators import ADMIN_LOGIN

    obj = ctx.find_root().obj if isinstance(ctx.find_root().obj, dict) else {}
    with Gateway.open(Home(home)) as gw:
        operators.add(gw, operators.resolve(gw, OPERATOR), obj.get("os_user") or operators.os_user(),
                      ADMIN_LOGIN)


@click.command()
@click.option("--records", type=click.IntRange(min=1), help="宛名の件数（既定: 実規模 305,115） / scale down")
@home_option
@click.option("--rehearsal-db", metavar="URL", help=REHEARSAL_DB_HELP)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def demo(ctx: click.Context, records: int | None, home: str | None, rehearsal_db: str | None, as_json: bool) -> None:
    """久留米市 2020 年の給付金の受け渡しを実規模で再現し監査 / replay Kurume 2020 at full size and audit it."""
    from gateway.clock import real_now, to_jst
    from gateway.simulate.runner import simulate
    from gateway.simulate.scenario import load

    # The demo's own rehearsal home lives in a new directory (its name is the real time, not evidence).
    out = resolve_home(ctx, home).root / "demo" / f"kurume-2020-{to_jst(real_now()):%Y%m%d-%H%M%S}"
    result = simulate(load("kurume-2020"), out, records=records, seed=2020, faults=[],
                      echo=(lambda _: None) if as_json else click.echo, rehearsal_db=rehearsal_db)
    _hand_over(out / "home", ctx)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo("")
    click.echo(f"久留米市 2020: {result['records']:,} 件、受け渡し {result['transfers']} 件"
               f"（{', '.join(result['channels'])}）/ {result['seconds']} s")
    verdict = "検証成功 / verified" if result["verified"] else "検証失敗 / NOT verified"
    findings = ", ".join(result["findings"]) or "なし / none"
    click.echo(f"独立監査 / audit: {verdict}; 指摘 / findings: {findings}")
    click.echo(result["rests_on"])
    att = result.get("attestations", {})
    if att.get("signed"):
        click.echo(f"受託者の署名付き申告（受領確認・消去依頼・消去証明書） / contractor-signed attestations: {att['signed']} 件、"
                   f"監査で検証 audit-verified {att.get('audit_verified')}、"
                   f"ssh-keygen -Y verify で検証 verified by ssh-keygen {att.get('ssh_keygen_verified')}")
        click.echo(f"  例 / e.g.: {att.get('example')}")
    click.echo(f"監査報告（HTML） / audit report: {result['report']}")
    click.echo(f"証跡バンドル / evidence bundle: {result['bundle']}"
               f"  (audit verify {result['bundle']} --trust {result['trust']})")
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
