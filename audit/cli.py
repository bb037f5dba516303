"""`audit verify BUNDLE` and `audit report BUNDLE` (INTERFACE.md)."""
from __future__ import annotations

import sys

import click


def _not_yet(what: str) -> None:
    click.echo(
        f"「{what}」はまだ利用できません。今後のリリースで提供されます。\n"
        f"'{what}' is not yet available in this release.",
        err=True,
    )
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """証跡の独立監査 / independent verification of gateway evidence."""


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True)
def verify(bundle: str, as_json: bool) -> None:
    """署名・ハッシュ連鎖・相互参照を検証 / verify signatures, hash chain and cross-references."""
    _not_yet("audit verify")


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def report(bundle: str, output: str | None, as_json: bool) -> None:
    """監査報告 / the audit report."""
    _not_yet("audit report")
