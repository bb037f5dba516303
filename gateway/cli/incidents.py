"""`gateway transfer recall` and `gateway incident ...`: recalls, incidents and outside hand-overs."""
from __future__ import annotations

from typing import Any

import click

from gateway.cli.check import parse_instant
from gateway.cli.common import acting_command, cli_caller, echo_json, open_gateway


@click.group("transfer")
def transfer() -> None:
    """受け渡しの回収 / taking a transfer back."""


@transfer.command("recall")
@click.argument("transfer_id", metavar="TRANSFER")
@click.option("--reason", required=True, help="回収の理由 / why it is recalled")
@acting_command
def recall_cmd(ctx: click.Context, transfer_id: str, reason: str, login: str | None, home: str | None,
               as_json: bool) -> None:
    """回収（ダウンロード前は即時消去、後は緊急消去依頼と事故） / recall: erase at once, or an urgent erasure and incident."""
    from gateway.operations.recall import recall

    with open_gateway(ctx, home) as gw:
        done = recall(gw, cli_caller(gw, login), transfer_id, reason=reason)
    out = {"transfer": done.transfer, "downloaded": done.downloaded, "evidence": done.evidence,
           "contractor_deletion_due": done.deletion_due, "incident": done.incident}
    if as_json:
        echo_json(out)
    elif done.downloaded:
        click.echo(f"回収しました（受領済み）。受託者の消去期限 {done.deletion_due}、事故 {done.incident} / recalled after "
                   f"delivery: deletion due {done.deletion_due}, incident {done.incident}")
    else:
        click.echo(f"回収し、直ちに消去しました / recalled and erased at once: {done.transfer}")


@click.group("incident")
def incident() -> None:
    """事故の記録・指示・公表・終結 / incidents."""


def _facts(content: str, records: int, place: str, circumstances: str, occurred: str | None, gw: Any) -> Any:
    from gateway.operations.incidents import Facts

    return Facts(content=content, records=records, place=place, circumstances=circumstances,
                 occurred_at=parse_instant(occurred, gw.clock))


@incident.command("report")
@click.option("--transfer", "transfer_id", help="関係する受け渡し / the transfer concerned")
@click.option("--approval", help="関係する承認 / the approval concerned (city)")
@click.option("--incident", "incident_id", help="市が求めた報告への回答 / answering the city's open incident")
@click.option("--content", required=True, help="内容 / what happened")
@click.option("--records", type=int, required=True, help="件数 / records concerned")
@click.option("--place", required=True, help="発生場所 / where")
@click.option("--circumstances", required=True, help="発生状況 / how")
@click.option("--occurred-at", help="発生日時（既定: 現在） / when (default: now)")
@click.option("--contractor", help="報告を求める受託者（市） / contractor whose report the city asks for")
@click.option("--report-due", help="受託者の報告期限 / the contractor's report deadline")
@acting_command
def report_cmd(ctx: click.Context, transfer_id: str | None, approval: str | None, incident_id: str | None,
               content: str, records: int, place: str, circumstances: str, occurred_at: str | None,
               contractor: str | None, report_due: str | None, login: str | None, home: str | None,
               as_json: bool) -> None:
    """事故の報告・記録 / file or record an incident."""
    from gateway.operations import incidents

    with open_gateway(ctx, home) as gw:
        due = parse_instant(report_due, gw.clock) if report_due else None
        found = incidents.report(gw, cli_caller(gw, login), _facts(content, records, place, circumstances,
                                                                   occurred_at, gw),
                                 transfer=transfer_id, approval=approval, incident=incident_id,
                                 contractor_org=contractor, report_due=due)
    echo_json({"incident": found}) if as_json else click.echo(f"記録しました / recorded: {found}")


@incident.command("instruct")
@click.argument("incident_id", metavar="INCIDENT")
@click.option("--instruction", required=True, help="甲の指示 / the city's instruction")
@click.option("--due", required=True, help="期限 / deadline")
@acting_command
def instruct_cmd(ctx: click.Context, incident_id: str, instruction: str, due: str, login: str | None,
                 home: str | None, as_json: bool) -> None:
    """市の指示と期限 / the city's instruction and its deadline."""
    from gateway.operations import incidents

    with open_gateway(ctx, home) as gw:
        incidents.instruct(gw, cli_caller(gw, login), incident_id, instruction=instruction,
                           due=parse_instant(due, gw.clock))
    _done(as_json, incident_id, "instructed")


@incident.command("done")
@click.argument("incident_id", metavar="INCIDENT")
@click.option("--note", required=True, help="実施内容 / what was done")
@acting_command
def done_cmd(ctx: click.Context, incident_id: str, note: str, login: str | None, home: str | None,
             as_json: bool) -> None:
    """指示の実施報告 / the instruction was carried out."""
    from gateway.operations import incidents

    with open_gateway(ctx, home) as gw:
        incidents.instruction_done(gw, cli_caller(gw, login), incident_id, note=note)
    _done(as_json, incident_id, "instruction-done")


@incident.command("publication")
@click.argument("incident_id", metavar="INCIDENT")
@click.option("--publish/--withhold", required=True, help="公表する・しない / make it public or not")
@click.option("--reason", required=True, help="判断の理由 / why")
@acting_command
def publication_cmd(ctx: click.Context, incident_id: str, publish: bool, reason: str, login: str | None,
                    home: str | None, as_json: bool) -> None:
    """公表の判断 / the decision whether to make it public."""
    from gateway.operations import incidents

    with open_gateway(ctx, home) as gw:
        incidents.publication(gw, cli_caller(gw, login), incident_id, publish=publish, reason=reason)
    _done(as_json, incident_id, "publication")


@incident.command("close")
@click.argument("incident_id", metavar="INCIDENT")
@click.option("--summary", required=True, help="結果 / the outcome")
@acting_command
def close_cmd(ctx: click.Context, incident_id: str, summary: str, login: str | None, home: str | None,
              as_json: bool) -> None:
    """終結 / close the incident."""
    from gateway.operations import incidents

    with open_gateway(ctx, home) as gw:
        incidents.close(gw, cli_caller(gw, login), incident_id, summary=summary)
    _done(as_json, incident_id, "closed")


@incident.command("list")
@acting_command
def list_cmd(ctx: click.Context, login: str | None, home: str | None, as_json: bool) -> None:
    """事故の一覧 / the incidents of your organisation."""
    from gateway.operations import incidents

    with open_gateway(ctx, home) as gw:
        rows = incidents.listing(gw, cli_caller(gw, login))
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['incident']}  {r['records']:,} 件  {r['content'][:40]}  "
                   f"{'終結' if r['closed_at'] else '対応中'}")


@incident.command("show")
@click.argument("incident_id", metavar="INCIDENT")
@acting_command
def show_cmd(ctx: click.Context, incident_id: str, login: str | None, home: str | None, as_json: bool) -> None:
    """事故の詳細 / one incident."""
    from gateway.operations import incidents

    with open_gateway(ctx, home) as gw:
        row = incidents.show(gw, cli_caller(gw, login), incident_id)
    if as_json:
        echo_json(row)
        return
    for k, v in row.items():
        click.echo(f"{k}: {v}")


@incident.command("external")
@click.option("--sender-org", required=True, help="持ち出した組織（市） / the city whose data left")
@click.option("--recipient", required=True, help="受け取った先（例: LINE WORKS） / where it went")
@click.option("--description", required=True, help="経緯 / what happened")
@click.option("--records", type=int, required=True, help="件数 / records")
@click.option("--handed-over-at", required=True, help="受渡しの日時 / when it was handed over")
@acting_command
def external_cmd(ctx: click.Context, sender_org: str, recipient: str, description: str, records: int,
                 handed_over_at: str, login: str | None, home: str | None, as_json: bool) -> None:
    """承認外の受渡しを記録（情報セキュリティ担当） / record a hand-over found outside the gateway."""
    from gateway.errors import Invalid
    from gateway.operations.external import declare

    if records < 0 or not description.strip():
        raise Invalid("件数は 0 以上、経緯は空にできません。", "records must be 0 or more and the description not empty.")
    with open_gateway(ctx, home) as gw:
        found = declare(gw, cli_caller(gw, login), sender_org=sender_org, recipient=recipient,
                        description=description, records=records,
                        handed_over_at=parse_instant(handed_over_at, gw.clock))
    echo_json({"transfer": found}) if as_json else click.echo(f"記録しました / recorded: {found}")


@incident.command("regularise")
@click.argument("transfer_id", metavar="TRANSFER")
@click.option("--approval", required=True, help="事後に承認した承認 id / the approval that regularised it")
@click.option("--note", required=True, help="経緯 / the account")
@acting_command
def regularise_cmd(ctx: click.Context, transfer_id: str, approval: str, note: str, login: str | None,
                   home: str | None, as_json: bool) -> None:
    """承認外の受渡しを事後の承認に結び付ける / link an outside hand-over to its later approval."""
    from gateway.operations.external import regularise

    with open_gateway(ctx, home) as gw:
        evidence = regularise(gw, cli_caller(gw, login), transfer_id, approval=approval, note=note)
    out = {"transfer": transfer_id, "approval": approval, "evidence": evidence}
    echo_json(out) if as_json else click.echo(f"結び付けました / linked: {transfer_id} → {approval}")


def _done(as_json: bool, incident_id: str, event: str) -> None:
    if as_json:
        echo_json({"incident": incident_id, "event": event})
    else:
        click.echo(f"記録しました / recorded: {incident_id} ({event})")


def register(group: click.Group) -> None:
    group.add_command(transfer)
    group.add_command(incident)
