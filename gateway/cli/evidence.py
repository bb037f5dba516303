"""`gateway export evidence` and `gateway log`."""
from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import click
from sqlalchemy import select

from gateway.cli.check import parse_instant
from gateway.cli.common import cli_actor, home_option, open_gateway, refusals_exit_1
from gateway.clock import to_jst
from gateway.operations.export import export_bundle
from gateway.store import models as m


@click.group()
def export() -> None:
    """証跡の書き出し / export evidence."""


@export.command("evidence")
@click.option("--approval", help="この承認に限る（他の記録はハッシュのみ） / scope to one approval")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path))
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def export_evidence(ctx: click.Context, approval: str | None, output: Path, home: str | None, as_json: bool) -> None:
    """監査用の証跡バンドルを書き出す / write a self-contained, signed evidence bundle."""
    with open_gateway(ctx, home) as gw:
        result = export_bundle(gw, output, approval=approval, actor=cli_actor())
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        click.echo(f"証跡バンドル / bundle: {result['bundle']}")
        click.echo(f"ログの長さ（刈り込み分を含む） / log size (pruned entries included): {result['log_size']:,}　証跡文書 / documents: {result['evidence_documents']:,}")
        click.echo(f"検証 / verify: audit verify {result['bundle']}")


@click.command("log")
@click.option("--since", help="この日時以降（JST 既定） / from this time")
@click.option("--until", help="この日時より前 / before this time")
@click.option("--actor", help="利用者 / user")
@click.option("--org", help="組織 / organisation")
@click.option("--approval", help="承認 id / approval id")
@click.option("--action", help="操作（前方一致） / action prefix, e.g. transfer.")
@click.option("--outcome", type=click.Choice(["ok", "refused", "failed"]))
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True)
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def log(ctx: click.Context, since: str | None, until: str | None, actor: str | None, org: str | None,
        approval: str | None, action: str | None, outcome: str | None, limit: int, home: str | None,
        as_json: bool) -> None:
    """アクセスログの閲覧 / review the access log."""
    query = select(m.LogEntry).order_by(m.LogEntry.seq)
    if since:
        query = query.where(m.LogEntry.at >= parse_instant(since))
    if until:
        query = query.where(m.LogEntry.at < parse_instant(until))
    if actor:
        query = query.where(m.LogEntry.actor_user == actor)
    if org:
        query = query.where(m.LogEntry.actor_org == org)
    if approval:
        query = query.where(m.LogEntry.approval_id == approval)
    if action:
        query = query.where(m.LogEntry.action.startswith(action, autoescape=True))
    if outcome:
        query = query.where(m.LogEntry.outcome == outcome)
    with open_gateway(ctx, home) as gw, gw.unit() as session:
        rows = list(session.scalars(query.limit(limit)))
        if as_json:
            click.echo(json.dumps([json.loads(r.body) for r in rows], ensure_ascii=False))
            return
        for r in rows:
            entry = json.loads(r.body)
            who = _printable(entry["actor"]["user"] or entry["actor"]["role"] or "-")
            reason = _printable(json.dumps(entry["reason"], ensure_ascii=False)) if entry["reason"] else ""
            click.echo(f"{r.seq:>7} {to_jst(r.at):%Y-%m-%d %H:%M:%S} {entry['channel']:<9} {who:<16} "
                       f"{_printable(r.action):<18} {r.outcome:<7} {_printable(r.approval_id or '-'):<24} {reason}")


def _printable(text: str) -> str:
    """Escape control and format characters so a logged value cannot start a line, move the cursor
    or reorder what the officer reads (bidi overrides such as U+202E)."""
    if not any(c < " " or c == "\x7f" or unicodedata.category(c) == "Cf" for c in text):
        return text
    escaped = json.dumps(text, ensure_ascii=False)[1:-1]
    return "".join(f"\\u{ord(c):04x}" if c == "\x7f" or unicodedata.category(c) == "Cf" else c for c in escaped)


def register(group: click.Group) -> None:
    group.add_command(export)
    group.add_command(log)
