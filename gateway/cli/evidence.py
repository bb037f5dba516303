"""`gateway export evidence` and `gateway log`."""
from __future__ import annotations

import functools
import json
import signal
import ssl
import threading
import unicodedata
from pathlib import Path

import click
from sqlalchemy import func, select

from gateway import siem
from gateway.cli.check import parse_instant
from gateway.cli.common import cli_actor, home_option, open_gateway, refusals_exit_1
from gateway.clock import to_jst
from gateway.errors import Invalid
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
        click.echo(f"ログの長さ（刈り込み分を含む） / log size (pruned entries included): {result['log_size']:,}　"
                   f"証跡文書 / documents: {result['evidence_documents']:,}")
        click.echo(f"検証 / verify: audit verify {result['bundle']} --trust <市が公表した信頼ポリシー / the city's"
                   " trust policy, from gateway keys publish>")


@click.command("log")
@click.option("--since", help="この日時以降（JST 既定） / from this time")
@click.option("--until", help="この日時より前 / before this time")
@click.option("--actor", help="利用者 / user")
@click.option("--org", help="組織 / organisation")
@click.option("--approval", help="承認 id / approval id")
@click.option("--action", help="操作（前方一致） / action prefix, e.g. transfer.")
@click.option("--outcome", type=click.Choice(["ok", "refused", "failed"]))
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True,
              help="新しいものからこの件数 / this many entries, the newest")
@click.option("--tail", type=click.IntRange(min=0),
              help="最新の N 件を古い順に（tail と同じ） / the newest N entries, oldest of them first (as tail)")
@click.option("-f", "--follow", is_flag=True,
              help="追記される記録を表示し続ける（Ctrl-C で終了） / keep printing entries as they are written")
@click.option("--jsonl", is_flag=True, help="1 行 1 記録の JSON（SIEM 向け） / JSON Lines, one entry a line")
@click.option("--syslog", "syslog_to", metavar="HOST:PORT",
              help="RFC 5424 syslog（TLS）で SIEM へ送る / send to a SIEM as RFC 5424 syslog over TLS")
@click.option("--syslog-ca", type=click.Path(dir_okay=False), help="SIEM の証明書の CA / the collector's CA (else the system's)")
@click.option("--syslog-state", type=click.Path(dir_okay=False, path_type=Path),
              help="送信済みの位置を保存し再開する / keep the last entry sent here, and resume after it")
@click.option("--poll", type=click.FloatRange(0.05, 60.0), default=1.0, hidden=True)
@home_option
@click.option("--json", "as_json", is_flag=True, help="JSON の配列（記録順） / a JSON array, in log order")
@click.pass_context
@refusals_exit_1
def log(ctx: click.Context, since: str | None, until: str | None, actor: str | None, org: str | None,
        approval: str | None, action: str | None, outcome: str | None, limit: int, tail: int | None, follow: bool,
        jsonl: bool, syslog_to: str | None, syslog_ca: str | None, syslog_state: Path | None, poll: float,
        home: str | None, as_json: bool) -> None:
    """アクセスログの閲覧（新しい順） / review the access log, newest first.

    `--tail N` and `--follow` read as `tail -f` does: the newest N (10 with --follow) oldest
    first, then each new entry as it is written. `--json` keeps the log order scripts rely on.
    `--syslog` sends the same entries to the officers' SIEM instead of printing them."""
    forwarder = _forwarder(syslog_to, syslog_ca, syslog_state) if syslog_to else None
    if follow and as_json:
        raise Invalid("--follow は --json（配列）と併用できません。--jsonl を使ってください。",
                      "--follow cannot stream a JSON array; use --jsonl (one JSON object a line).")
    query = select(m.LogEntry)
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
    chronological = follow or tail is not None or forwarder is not None
    window = tail if tail is not None else (10 if follow else limit)
    resume = forwarder.resume_after() if forwarder is not None else None
    if resume is not None:  # everything after the last entry sent, however many
        query, window = query.where(m.LogEntry.seq > resume), 10**9
    stop = threading.Event()
    show = functools.partial(_show, jsonl=jsonl) if forwarder is None else functools.partial(_forward, forwarder, stop)
    with open_gateway(ctx, home) as gw:
        with gw.read() as session:
            rows = [(r.seq, r.at, r.action, r.outcome, r.approval_id, json.loads(r.body))
                    for r in session.scalars(query.order_by(m.LogEntry.seq.desc()).limit(window))] if window else []
        if as_json:
            click.echo(json.dumps([row[5] for row in reversed(rows)], ensure_ascii=False))
            return
        last = rows[0][0] if rows else resume
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        for row in (reversed(rows) if chronological else rows):
            show(row)
        if not follow:
            return
        if last is None:  # nothing matched yet: follow from the log's end, not its beginning
            with gw.read() as session:
                last = session.scalar(select(func.max(m.LogEntry.seq))) or 0
        while not stop.wait(poll):
            with gw.read() as session:
                for r in session.scalars(query.where(m.LogEntry.seq > last).order_by(m.LogEntry.seq)):
                    if stop.is_set():
                        break
                    show((r.seq, r.at, r.action, r.outcome, r.approval_id, json.loads(r.body)))
                    last = r.seq
    if forwarder is not None:
        forwarder.close()


def _forwarder(target: str, cafile: str | None, state: Path | None) -> siem.Forwarder:
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise Invalid(f"--syslog は HOST:PORT で指定してください（例: siem.city.lg.jp:6514）: {target!r}",
                      f"--syslog takes HOST:PORT (e.g. siem.city.lg.jp:6514), not {target!r}.")
    try:
        return siem.Forwarder(host.strip("[]"), int(port), cafile, state)
    except (OSError, ssl.SSLError) as err:
        raise Invalid(f"SIEM の CA ファイル {cafile} を読めません（{err}）。", f"cannot read the SIEM CA file {cafile} ({err}).") from None


def _forward(forwarder: siem.Forwarder, stop: threading.Event, row: tuple) -> None:
    if not stop.is_set():
        forwarder.send(row[5], stop)


def _show(row: tuple, jsonl: bool) -> None:
    seq, at, action, outcome, approval, entry = row
    if jsonl:
        click.echo(json.dumps(entry, ensure_ascii=False, separators=(",", ":")))
        return
    who = _printable(entry["actor"]["user"] or entry["actor"]["role"] or "-")
    reason = _printable(json.dumps(entry["reason"], ensure_ascii=False)) if entry["reason"] else ""
    click.echo(f"{seq:>7} {to_jst(at):%Y-%m-%d %H:%M:%S} {entry['channel']:<9} {who:<16} "
               f"{_printable(action):<18} {outcome:<7} {_printable(approval or '-'):<24} {reason}")


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
