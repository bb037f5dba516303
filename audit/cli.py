"""`audit verify BUNDLE --trust POLICY`, `audit report BUNDLE --trust POLICY` and `audit witness` (INTERFACE.md).

The verdict rests only on the trust policy the verifier holds (audit/trust.py). Without one the
checks still run and their failures are shown, but the answer is 検証不能 / unverifiable with exit 1:
a bundle's own keys can vouch for nothing.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from audit import __version__
from audit.trust import Policy, PolicyError
from audit.trust import load as load_policy
from audit.witness.cli import witness

UNVERIFIABLE = ("検証不能 / unverifiable: 信頼ポリシーがありません。市が公表した検証鍵とウィットネスを記した"
                "ポリシーを --trust POLICY（又は AUDIT_TRUST）で指定してください / no trust policy: give the policy"
                " with the city's published key and the witnesses (--trust POLICY or AUDIT_TRUST);"
                " keys inside a bundle vouch for nothing")


def _policy(value: str | None) -> Policy | None:
    if not value:
        return None
    try:
        return load_policy(Path(value))
    except PolicyError as exc:
        raise click.BadParameter(f"信頼ポリシーを読めません / cannot use the trust policy: {exc}",
                                 param_hint="--trust") from None


_TRUST = click.option("--trust", "trust", metavar="POLICY", envvar="AUDIT_TRUST", show_envvar=True,
                      help="信頼ポリシー（TOML） / the trust policy: the log's origin, the city's verifier key(s), "
                           "the witnesses' keys and their quorum.")


def _safe(text: str) -> str:
    """Bundle text reaches the officer's terminal: escape anything that could act on it (ANSI, bidi)."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
                   for c in text)


def _echo_json(value: object) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _rests_on(policy: Policy, witnessed: int | None) -> str:
    """One line: which policy and which witnesses the verdict rests on."""
    names = ", ".join(w.name for w in policy.witnesses) or "なし / none"
    seen = "" if witnessed is None else f"; 連署済み / witnessed up to entry {witnessed}"
    return (f"信頼の根拠 / rests on: {policy.path} (sha256 {policy.sha256[:16]}), log {policy.origin},"
            f" witnesses {names} (quorum {policy.quorum}){seen}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="audit", message="%(prog)s %(version)s")
def main() -> None:
    """証跡の独立監査 / independent verification of gateway evidence."""


main.add_command(witness)


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True)
@_TRUST
def verify(bundle: str, as_json: bool, trust: str | None) -> None:
    """署名・ハッシュ連鎖・相互参照を検証 / verify signatures, hash chain, checkpoints and witnesses."""
    from audit.verify import verify as run

    policy = _policy(trust)
    result = run(Path(bundle), policy)
    if as_json:
        _echo_json(result.to_json())
    else:
        from audit.continuity import lines

        for failure in result.failures:
            tag = "[warning] " if failure.kind == "log-unwitnessed" else ""
            click.echo(_safe(tag + failure.line()))
        for line in lines(result):
            click.echo(_safe(line))
        if policy is None:
            click.echo(UNVERIFIABLE + f" ({len(result.failures)} failure(s) found in the bundle itself)", err=True)
        elif result.verified:
            pruned = (f" (entries 1-{result.prunings.base} pruned under {len(result.prunings.statements)}"
                      " signed statement(s))" if result.prunings.base else "")
            heads = len(result.checkpoints) + len(result.tree_heads)
            click.echo(f"検証成功 verified: {result.log.lines} log entries{pruned}, {heads} checkpoints, "
                       f"{len(result.documents)} evidence documents")
            click.echo(_rests_on(policy, result.witnessed))
            if counts := result.attestations.counts():
                click.echo("受託者の申告 / attestations: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                           + f" ({result.attestations.files} SSHSIG signatures verified)")
        else:
            click.echo(f"検証失敗 NOT verified: {len(result.failures)} failure(s)", err=True)
            click.echo(_rests_on(policy, result.witnessed), err=True)
    sys.exit(0 if result.verified else 1)


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@_TRUST
def report(bundle: str, output: str | None, as_json: bool, trust: str | None) -> None:
    """監査報告 / the audit report (exit 1 when unreadable or without a trust policy)."""
    from audit.findings import build_report

    policy = _policy(trust)
    rep = build_report(Path(bundle), policy)
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
        verdict = ("検証不能 / unverifiable (no trust policy)" if policy is None
                   else "検証成功 verified" if rep.verification.verified else "検証失敗 NOT verified")
        click.echo(verdict + f"; {len(rep.findings)} finding(s)" + (f"; report written to {output}" if output else ""))
        if policy is not None:
            click.echo(_rests_on(policy, rep.verification.witnessed))
    if policy is None:
        click.echo(UNVERIFIABLE, err=True)
        sys.exit(1)
    sys.exit(0)


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False))
@click.option("--fiscal-year", "fiscal_year", required=True, type=click.IntRange(1990, 2999),
              help="年度（4月始まり） / fiscal year beginning in April")
@click.option("-o", "--output", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@_TRUST
def annual(bundle: str, fiscal_year: int, output: str | None, as_json: bool, trust: str | None) -> None:
    """年度の運用状況報告の集計 / the fiscal-year summary for the annual operating report."""
    from audit.annual import summarise
    from audit.findings import build_report

    policy = _policy(trust)
    rep = build_report(Path(bundle), policy)
    if rep.unreadable:
        click.echo(f"証跡を読めません / cannot read the bundle: {rep.unreadable}", err=True)
        sys.exit(1)
    summary = summarise(rep, fiscal_year)
    if output is not None:
        from audit.report_html import render_annual

        try:
            Path(output).write_text(render_annual(summary), encoding="utf-8")
        except OSError as exc:
            click.echo(f"報告書を書き出せません / cannot write {output}: {exc.strerror or exc}", err=True)
            sys.exit(1)
    if as_json:
        _echo_json({k: v for k, v in summary.items() if k != "kind_labels"})
    else:
        t = summary["totals"]
        click.echo(f"{fiscal_year}年度: 受渡し {t['transfers']} 件、記録 {t['records']:,} 件、拒否 {t['refusals']} 件、"
                   f"事故 {t['incidents']} 件、指摘 {t['findings']} 件")
    if policy is None:
        click.echo(UNVERIFIABLE, err=True)
        sys.exit(1)
    sys.exit(0)
