"""`gateway keys show|publish|rotate-signing|rotate-kek`."""
from __future__ import annotations

import json
from pathlib import Path

import click

from gateway.cli.common import cli_actor, console_command, home_option, open_gateway, reading_gateway, refusals_exit_1
from gateway.crypto.keystore import KeyStore


@click.group()
def keys() -> None:
    """鍵の管理 / the key store."""


@keys.command()
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def show(ctx: click.Context, home: str | None, as_json: bool) -> None:
    """公開鍵の一覧（秘密鍵は表示しない） / public keys (never private ones), and the log's C2SP verifier keys."""
    from gateway.operations.trust import current_verifier_key, log_verifier_keys

    with reading_gateway(ctx, home) as gw:
        store = gw.keys
        current = store.signing_key().id
        evidence = store.public_signing_keys()
        origin, published, note_key = gw.ledger.origin, log_verifier_keys(gw), current_verifier_key(gw)
    if as_json:
        click.echo(json.dumps({"origin": origin, "genesis": store.genesis_key_id(), "current": current,
                               "evidence_keys": evidence, "verifier_keys": published, "current_verifier_key": note_key},
                              ensure_ascii=False))
        return
    for kid, public in evidence.items():
        mark = "*" if kid == current else " "
        click.echo(f"{mark} evidence-signing {kid} ed25519:{public}")
    click.echo(f"  log origin {origin}")
    for vkey in published:
        click.echo(f"{'*' if vkey == note_key else ' '} note-verifier {vkey}")


@keys.command()
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="信頼ポリシーの雛形を書き出すファイル / where to write the trust-policy template")
@click.option("--quorum", type=click.IntRange(min=0),
              help="連署が必要なウィットネスの数（既定: 登録数の過半数） / "
                   "witnesses that must cosign (default: a majority)")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def publish(ctx: click.Context, output: Path, quorum: int | None, home: str | None, as_json: bool) -> None:
    """公表する検証鍵と信頼ポリシー / the city's verifier key, origin and a trust-policy template."""
    from gateway.operations.trust import current_verifier_key
    from gateway.operations.trust import publish as run

    with open_gateway(ctx, home) as gw:
        published = run(gw, output, cli_actor(), quorum)
        current = current_verifier_key(gw)
    if as_json:
        click.echo(json.dumps({**published.to_json(), "policy": str(output), "current_key": current},
                              ensure_ascii=False))
        return
    click.echo(f"ログの origin / log origin: {published.origin}")
    click.echo(f"検証鍵（公表するもの） / verifier key to publish: {current}")
    witnesses = ", ".join(w.split("+", 1)[0] for w in published.witnesses) or "なし / none"
    click.echo(f"ウィットネス / witnesses: {witnesses}（quorum {published.quorum}）")
    click.echo(f"信頼ポリシー / trust policy: {output} (sha256 {published.sha256[:16]})")
    click.echo(f"検証 / verify: audit verify BUNDLE --trust {output}")


@keys.command("rotate-signing")
@console_command
def rotate_signing(ctx: click.Context, home: str | None, as_json: bool) -> None:
    """証跡署名鍵の更新（旧鍵が新鍵を署名） / rotate the evidence key; the old key signs the new one."""
    # The statement's time is evidence: the home's one clock (a rehearsal's fake time, else real).
    with open_gateway(ctx, home) as gw:
        statement = KeyStore(gw.home.keys).rotate_signing_key(now=gw.clock.now())
    click.echo(json.dumps(statement, ensure_ascii=False, indent=None if as_json else 2))  # JSON either way


@keys.command("rotate-kek")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def rotate_kek(ctx: click.Context, home: str | None, as_json: bool) -> None:
    """鍵暗号化鍵の更新（全データ鍵を新しい世代で包み直し、旧世代を破棄） / rotate the key-encryption key:
    re-wrap every live data key under a new generation, destroy the old ones."""
    from gateway import kek_rotation

    with open_gateway(ctx, home) as gw:
        result = kek_rotation.rotate(gw.engine, gw.ledger, gw.keys.kek(), now=gw.clock.now(), force=True)
    assert result is not None  # forced
    if as_json:
        click.echo(json.dumps(result.to_dict()))
        return
    click.echo(f"鍵暗号化鍵の世代 / KEK generation {result.generation} ({result.backend}): "
               f"再ラップ re-wrapped {result.rewrapped}, 破棄 destroyed {result.destroyed}")


def register(group: click.Group) -> None:
    group.add_command(keys)
