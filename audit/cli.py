"""`audit verify BUNDLE` and `audit report BUNDLE` (INTERFACE.md)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from audit import __version__
from audit.keys import decode_b64


def _pin(value: str | None) -> bytes | None:
    if value is None:
        return None
    raw = decode_b64(value.strip(), 32)
    if raw is None:
        raise click.BadParameter("expected the base64 of a raw 32-byte Ed25519 public key "
                                 "(the genesis key the city publishes)", param_hint="--trust-key")
    return raw


_TRUST = click.option("--trust-key", "trust_key", metavar="BASE64",
                      help="Pin the genesis evidence key (base64 raw Ed25519) the city published.")


def _safe(text: str) -> str:
    """Bundle text reaches the officer's terminal: escape anything that could act on it (ANSI, bidi)."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
                   for c in text)


def _echo_json(value: object) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="audit", message="%(prog)s %(version)s")
def main() -> None:
    """証跡の独立監査 / independent verification of gateway evidence."""


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True)
@_TRUST
def verify(bundle: str, as_json: bool, trust_key: str | None) -> None:
    """署名・ハッシュ連鎖・相互参照を検証 / verify signatures, hash chain and cross-references."""
    from audit.verify import verify as run

    result = run(Path(bundle), _pin(trust_key))
    if as_json:
        _echo_json(result.to_json())
    else:
        for failure in result.failures:
            click.echo(_safe(failure.line()))
        trust = (f"genesis key {result.trusted.genesis} (pinned)" if result.trusted.pinned
                 else f"genesis key {result.trusted.genesis} (not pinned: compare it with the id the city publishes)")
        if result.verified:
            pruned = (f" (entries 1-{result.prunings.base} pruned under {len(result.prunings.statements)}"
                      " signed statement(s))" if result.prunings.base else "")
            click.echo(f"検証成功 verified: {result.log.lines} log entries{pruned}, {len(result.checkpoints)} checkpoints, "
                       f"{len(result.documents)} evidence documents; {trust}")
        else:
            click.echo(f"検証失敗 NOT verified: {len(result.failures)} failure(s); {trust}", err=True)
    sys.exit(0 if result.verified else 1)


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@_TRUST
def report(bundle: str, output: str | None, as_json: bool, trust_key: str | None) -> None:
    """監査報告 / the audit report."""
    from audit.findings import build_report

    rep = build_report(Path(bundle), _pin(trust_key))
    if rep.unreadable:
        click.echo(f"証跡を読めません / cannot read the bundle: {rep.unreadable}", err=True)
        if as_json:
            _echo_json(rep.to_json())
        sys.exit(1)
    if output is not None:
        from audit.report_html import render

        try:
            Path(output).write_text(render(rep), encoding="utf-8")
        except OSError as exc:
            click.echo(f"報告書を書き出せません / cannot write {output}: {exc.strerror or exc}", err=True)
            sys.exit(1)
    if as_json:
        _echo_json(rep.to_json())
    else:
        for finding in rep.findings:
            where = " ".join(x for x in (finding.approval, finding.transfer) if x)
            tag = "prevented" if finding.prevented else finding.severity
            click.echo(_safe(f"[{tag}] {finding.kind}{' ' + where if where else ''}: {finding.detail}"))
        click.echo(("検証成功 verified" if rep.verification.verified else "検証失敗 NOT verified")
                   + f"; {len(rep.findings)} finding(s)" + (f"; report written to {output}" if output else ""))
    sys.exit(0)
