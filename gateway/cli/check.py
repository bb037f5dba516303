"""`gateway check FILE`: screen a recipient file against an approval; sends and stores nothing."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from gateway.cli.common import home_option, open_gateway, refusals_exit_1
from gateway.clock import JST, Clock
from gateway.core.screening import Screening, screen
from gateway.errors import Invalid
from gateway.store.registry import get_approval, get_profile


def parse_instant(value: str | None, clock: Clock | None = None) -> datetime:
    """ISO 8601; without a zone it is JST, as people here write times. None: `clock`'s now."""
    if value is None:
        return (clock or Clock()).now()
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(
            f"日時「{value}」を読めません。例: 2020-06-01T10:00:00+09:00",
            f"cannot read the time '{value}'; e.g. 2020-06-01T10:00:00+09:00",
        ) from None
    return (at if at.tzinfo else at.replace(tzinfo=JST)).astimezone(UTC)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--approval", "approval_id", required=True, help="承認 id / approval id")
@click.option("--recipient", required=True, help="提供先の組織 id / receiving organisation id")
@click.option("--profile", "profile_id", required=True, help="受け渡し方法 / transfer profile id")
@click.option("--at", "at_text", help="受け渡し予定日時（既定: 現在） / planned time (default: now)")
@click.option("--password-delivery", type=str, help="パスワード通知の方法 / how the notice travels")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def check(ctx: click.Context, file: Path, approval_id: str, recipient: str, profile_id: str,
          at_text: str | None, password_delivery: str | None, home: str | None, as_json: bool) -> None:
    """宛名ファイルを承認に照らして確認（送付はしない） / screen a file against an approval (sends nothing)."""
    with open_gateway(ctx, home) as gw, gw.read() as session:
        approval = get_approval(session, approval_id)
        profile = get_profile(session, profile_id)
    # "Now" is the home's one clock: a rehearsal's fake time, the real one in production.
    clock, config = gw.clock, gw.settings
    result = screen(
        file, approval, profile,
        sender_org=approval.city.id if profile.sender_kind == "city" else _relaying_contractor(approval, recipient),
        sender_role=profile.sender_roles[0],
        recipient=recipient,
        at=parse_instant(at_text, clock),
        password_delivery=password_delivery,
        max_line=config.records.max_line_bytes,
    )
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(summary(result))
    if not result.decision.allowed:
        for r in result.decision.refusals:
            click.echo(f"[{r.kind}] {r.ja}\n[{r.kind}] {r.en}", err=True)
        ctx.exit(1)


def _relaying_contractor(approval, recipient: str) -> str:
    for r in approval.recipients:
        if any(s.organisation.id == recipient for s in r.subcontractors):
            return r.organisation.id
    return ""


def summary(s: Screening) -> str:
    m = s.manifest
    removed = ", ".join(f"{p}: {m.excluded.get(p, 0)}" for p in sorted(s.decision.remove))
    lines = [
        f"ファイル / file: {m.source_name}（{m.encoding}, {m.size_bytes:,} bytes）",
        f"SHA-256: {m.sha256}",
        f"件数 / records: {m.record_count:,}",
        f"列 / columns: {', '.join(m.columns)}",
    ]
    if removed:
        lines.append(f"送付前に除く対象者 / removed before sending: {removed}")
    lines.append(f"送付件数 / records to send: {s.decision.records_to_send:,}")
    lines.append("判定 / decision: " + ("送付できます / allowed" if s.decision.allowed else "送付できません / refused"))
    return "\n".join(lines)


def register(group: click.Group) -> None:
    group.add_command(check)
