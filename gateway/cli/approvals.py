"""`gateway approval add|amend-handlers|list|show`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from gateway.cli.common import as_option, cli_actor, cli_caller, home_option, open_gateway, refusals_exit_1
from gateway.clock import to_jst
from gateway.core.approvals import CONDITION_KINDS, CONDITION_RULES, DECISIONS, HANDLER_ROLES, LEGAL_BASES, Approval
from gateway.core.records.fields import EXCLUDED_POPULATIONS, header_label
from gateway.data import approval_file
from gateway.operations.approvals import add_approval
from gateway.operations.handlers import amend_handlers
from gateway.store.registry import get_approval, list_approvals


@click.group()
def approval() -> None:
    """審議会承認 / council approvals."""


@approval.command()
@click.argument("file")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def add(ctx: click.Context, file: str, home: str | None, as_json: bool) -> None:
    """承認ファイル（TOML）または同梱の承認の ID を登録 / register an approval file (TOML) or a shipped approval by id."""
    with open_gateway(ctx, home) as gw:
        a, new = add_approval(gw, approval_file(file), actor=cli_actor())
    if as_json:
        click.echo(json.dumps({"id": a.id, "added": new, "sha256": a.source_sha256}))
    elif new:
        click.echo(f"登録しました / registered: {a.id}（{a.case_number}）")
    else:
        click.echo(f"同じ内容で登録済みです / already registered, unchanged: {a.id}")


@approval.command("amend-handlers")
@click.argument("approval_id")
@click.option("--org", required=True, help="受託者・再委託先の組織 id / the contractor's organisation")
@click.option("--add", "added", multiple=True, metavar="LOGIN:NAME[:ROLE]", help="追加する取扱者 / a handler to add")
@click.option("--remove", "removed", multiple=True, metavar="LOGIN", help="外す取扱者 / a handler to remove")
@click.option("--decision-ref", required=True, help="市の決定（決裁番号など） / the city's decision, where filed")
@click.option("--decision", "decision_file", type=click.Path(dir_okay=False, path_type=Path),
              help="決定書のスキャン / the decision's scan")
@click.option("--reason", required=True, help="理由（退職、異動） / why (a leaver, a transfer)")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def amend_handlers_(ctx: click.Context, approval_id: str, org: str, added: tuple[str, ...], removed: tuple[str, ...],
                    decision_ref: str, decision_file: Path | None, reason: str, home: str | None,
                    as_json: bool) -> None:
    """取扱者名簿の変更（市の決定に基づく。承認の再登録は不要） / amend a handler list under the city's decision."""
    with open_gateway(ctx, home) as gw:
        after = amend_handlers(gw, approval_id, org=org, add=list(added), remove=list(removed), decision_ref=decision_ref,
                               decision=decision_file, reason=reason, actor=cli_actor())
    if as_json:
        click.echo(json.dumps({"approval": approval_id, "organisation": org, "handlers": after}, ensure_ascii=False))
    else:
        click.echo(f"取扱者名簿を変更しました / handlers amended: {approval_id} {org}: {', '.join(after)}")


@approval.command("list")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def list_(ctx: click.Context, home: str | None, as_json: bool) -> None:
    """登録済みの承認 / registered approvals."""
    with open_gateway(ctx, home) as gw, gw.read() as session:
        rows: list[dict[str, Any]] = [
            {
                "id": r.id,
                "case_number": r.case_number,
                "title": r.title,
                "decision": r.decision,
                "period_start": r.period_start.isoformat(),
                "period_end": r.period_end.isoformat(),
                "max_records": r.max_records,
            }
            for r in list_approvals(session)
        ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        click.echo("承認は登録されていません / no approvals registered")
    for r in rows:
        click.echo(f"{r['id']}\t{DECISIONS[r['decision']]}\t{r['case_number']}\t{r['title']}")


@approval.command()
@click.argument("approval_id")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def show(ctx: click.Context, approval_id: str, home: str | None, as_json: bool) -> None:
    """承認の内容 / one approval in full."""
    with open_gateway(ctx, home) as gw, gw.read() as session:
        a = get_approval(session, approval_id)
    if as_json:
        click.echo(json.dumps(approval_to_dict(a), ensure_ascii=False, indent=2))
    else:
        click.echo(describe(a))


def approval_to_dict(a: Approval) -> dict[str, object]:
    return {
        "id": a.id,
        "case_number": a.case_number,
        "title": a.title,
        "city": a.city.id,
        "department": a.department,
        "legal_basis": list(a.legal_basis),
        "decision": a.decision,
        "council": {"session": a.council_session, "date": a.council_date.isoformat()},
        "fields": list(a.fields),
        "population": a.population,
        "max_records": a.max_records,
        "excluded": [{"population": e.population, "handling": e.handling} for e in a.excluded],
        "recipients": [
            {
                "organisation": r.organisation.id,
                "certifications": list(r.organisation.certifications),
                "handlers": [h.login for h in r.handlers],
                "subcontractors": [
                    {"organisation": s.organisation.id, "handlers": [h.login for h in s.handlers]}
                    for s in r.subcontractors
                ],
            }
            for r in a.recipients
        ],
        "profiles": list(a.profiles),
        "period_start": a.period_start.isoformat(),
        "period_end": a.period_end.isoformat(),
        "retention": {
            "gateway_days": a.retention.gateway_days,
            "gateway_until_period_end": a.retention.gateway_until_period_end,
            "contractor_deletion_days": a.retention.contractor_deletion_days,
            "contractor_keep_years": a.retention.contractor_keep_years,
            "rollover_month": a.retention.rollover_month,
        },
        "conditions": [{"number": n, "text": c.text, "rule": c.rule, "kind": c.kind}
                       for n, c in enumerate(a.conditions, 1)],
        "sha256": a.source_sha256,
    }


def describe(a: Approval) -> str:
    """The approval as a person reads it, in Japanese with English keys where it helps."""
    lines = [
        f"{a.case_number}  [{a.id}]",
        f"  件名 / title: {a.title}",
        f"  実施機関 / city: {a.city.name}　{a.department}",
        f"  根拠 / basis: {', '.join(LEGAL_BASES[b] for b in a.legal_basis)}",
        f"  審議 / council: {a.council_session}（{a.council_date}）— {DECISIONS[a.decision]}",
        f"  期間 / period: {to_jst(a.period_start):%Y-%m-%d %H:%M} 〜 {to_jst(a.period_end):%Y-%m-%d %H:%M} JST（終了時刻を含まない）",
        f"  項目 / fields: {', '.join(header_label(f) for f in a.fields)}",
        f"  対象 / population: {a.population}（上限 {a.max_records:,} 件）",
    ]
    for e in a.excluded:
        how = "除いて送付" if e.handling == "remove" else "含まれていれば受付拒否"
        lines.append(f"  除外 / excluded: {EXCLUDED_POPULATIONS[e.population]}（{how}）")
    for r in a.recipients:
        lines.append(f"  委託先 / contractor: {r.organisation.name} [{r.organisation.id}]")
        for h in r.handlers:
            lines.append(f"    {HANDLER_ROLES[h.role]}: {h.name} ({h.login})")
        for s in r.subcontractors:
            lines.append(f"    再委託先 / subcontractor: {s.organisation.name} [{s.organisation.id}]")
            for h in s.handlers:
                lines.append(f"      {HANDLER_ROLES[h.role]}: {h.name} ({h.login})")
    lines.append(f"  受け渡し方法 / profiles: {', '.join(a.profiles)}")
    ret = a.retention
    if ret.gateway_days is not None:
        lines.append(f"  ゲートウェイ保管 / gateway copy: 受領後 {ret.gateway_days} 日以内に消去")
    if ret.contractor_deletion_days is not None:
        lines.append(f"  受託者の消去 / contractor erasure: 期間終了後 {ret.contractor_deletion_days} 日以内に消去証明")
    if ret.contractor_keep_years is not None:
        lines.append(f"  保存 / kept: {ret.contractor_keep_years} 年保存後、{ret.rollover_month} 月の更新時に消去")
    for n, c in enumerate(a.conditions, 1):
        rule = f"（自動確認: {CONDITION_RULES[c.rule]}）" if c.rule else ""
        lines.append(f"  {n}. {CONDITION_KINDS[c.kind]} / {c.kind}: {c.text}{rule}")
    return "\n".join(lines)


@approval.command("confirm")
@click.argument("approval_id")
@click.option("--condition", "number", required=True, type=click.IntRange(min=1),
              help="条件の番号（approval show の番号） / the condition's number as approval show prints it")
@click.option("--means", required=True, help="確認の根拠（報告書・立入調査等） / what it was confirmed by")
@click.option("--on", "on", help="確認した日時（JST） / when it was confirmed")
@click.option("--note")
@as_option
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def confirm_cmd(ctx: click.Context, approval_id: str, number: int, means: str, on: str | None, note: str | None,
                login: str | None, home: str | None, as_json: bool) -> None:
    """条件が満たされたことを確認して記録 / record that a person confirmed a condition was met."""
    from gateway.cli.check import parse_instant
    from gateway.operations.conditions import confirm

    with open_gateway(ctx, home) as gw:
        evidence = confirm(gw, cli_caller(gw, login), approval_id, number, means=means,
                           confirmed_on=parse_instant(on) if on else None, note=note)
    if as_json:
        click.echo(json.dumps({"approval": approval_id, "condition": number, "evidence": evidence}))
        return
    click.echo(f"確認を記録しました / confirmation recorded: {evidence}")


def register(group: click.Group) -> None:
    group.add_command(approval)
