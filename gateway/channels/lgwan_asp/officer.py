"""Security officers: read-only views of the access log, the chain, approvals' states and the
independent auditor's report, limited to their city's approvals and the organisations they reach."""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from gateway.channels.lgwan_asp import labels, queries
from gateway.channels.lgwan_asp.sessions import Auth
from gateway.channels.lgwan_asp.web import CHANNEL, actor_of, gw_of, refused, render, require
from gateway.clock import JST, to_jst
from gateway.errors import Invalid, NotFound, Unavailable
from gateway.operations.attempt import attempt, refuse
from gateway.operations.export import export_bundle
from gateway.operations.trust import published_text
from gateway.service import Gateway

router = APIRouter(prefix="/officer", include_in_schema=False)


def _instant(text: str | None) -> datetime | None:
    if not text:
        return None
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=JST)  # people type Japanese local time


def log_filter(params: Any) -> queries.LogFilter:
    def get(name: str) -> str | None:
        value = params.get(name)
        return value.strip()[:200] if value and value.strip() else None

    def number(name: str, default: int, top: int) -> int:
        text = get(name) or ""
        return max(1, min(int(text), top)) if text.isdigit() else default

    outcome = get("outcome")
    return queries.LogFilter(since=_instant(get("since")), until=_instant(get("until")), actor=get("actor"),
                             org=get("org"), approval=get("approval"), action=get("action"),
                             outcome=outcome if outcome in ("ok", "refused", "failed") else None,
                             limit=number("limit", queries.PAGE_MAX, 5000), page=number("page", 1, 10**7))


async def _filter_of(request: Request) -> queries.LogFilter:
    try:
        return log_filter(request.query_params)
    except ValueError:
        raise await refused(request, "log.read", Invalid("日時は YYYY-MM-DDTHH:MM で入力してください。",
                                                           "enter times as YYYY-MM-DDTHH:MM.")) from None


def with_gaps(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The page's rows (newest first) with a row for each run of entries between two shown ones:
    an unfiltered view skips only other cities' entries, and says so rather than leave a gap
    that reads as tampering."""
    out: list[dict[str, Any]] = []
    previous: int | None = None
    for row in rows:
        if previous is not None and previous - row["seq"] > 1:
            out.append({"gap": (row["seq"] + 1, previous - 1), "count": previous - row["seq"] - 1})
        out.append(row)
        previous = row["seq"]
    return out


@router.get("")
async def log_page(request: Request) -> Response:
    auth = await require(request, "security-officer")
    f = await _filter_of(request)
    f = dataclasses.replace(f, limit=min(f.limit, queries.PAGE_MAX))
    gw = gw_of(request)
    rows = await run_in_threadpool(queries.log_entries, gw, auth.org, f)
    total = await run_in_threadpool(queries.log_count, gw, auth.org, f)
    pages = max(1, -(-total // f.limit))
    shown = with_gaps(rows) if f.empty else rows
    query = {k: v for k, v in request.query_params.items() if k not in ("page", "lang") and v}
    return render(request, "officer_log.html", rows=shown, q=request.query_params, total=total, page=f.page,
                  pages=pages, query=urlencode(query), filtered=not f.empty)


EXPORT_COLUMNS = ("seq", "at_jst", "at", "channel", "user", "org", "role", "terminal", "ssh_key", "source",
                  "action", "action_ja", "outcome", "kinds", "approval", "transfer", "reason", "evidence")


def _csv_row(e: dict[str, Any]) -> list[str]:
    actor, obj = e.get("actor") or {}, e.get("object") or {}
    return [str(e["seq"]), labels.jst_words(e["at"]), e["at"], e["channel"], actor.get("user") or "",
            actor.get("org") or "", actor.get("role") or "", actor.get("terminal") or "", actor.get("ssh_key") or "",
            e.get("source") or "", e["action"], labels.label(labels.ACTIONS, e["action"], "ja"), e["outcome"],
            " ".join(e.get("kinds") or []), obj.get("approval") or "", obj.get("transfer") or "",
            e.get("reason") or "", (e.get("evidence") or {}).get("id", "")]


def _export_lines(gw: Gateway, org: str, f: queries.LogFilter, fmt: str) -> Iterator[bytes]:
    if fmt == "csv":
        yield "\ufeff".encode()  # a BOM, so that spreadsheet software reads the Japanese as UTF-8
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(EXPORT_COLUMNS)
        for e in queries.log_export(gw, org, f):
            writer.writerow(_csv_row(e))
            if buf.tell() > 1 << 16:
                yield buf.getvalue().encode("utf-8")
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue().encode("utf-8")
    else:
        for e in queries.log_export(gw, org, f):
            yield (json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def _record_export(gw: Gateway, auth: Auth, fmt: str, request: Request) -> None:
    """An export of the log is itself an access the log keeps: who took which view away."""
    query = urlencode({k: v for k, v in request.query_params.items() if k != "lang" and v})[:300]
    with attempt(gw, actor_of(auth), "log.export", channel=CHANNEL, source=auth.source) as a, gw.unit() as session:
        gw.ledger.record(session, a.event(reason=f"{fmt} of the log view ?{query}"))


@router.get("/log.{fmt}")
async def log_export(request: Request, fmt: str) -> Response:
    auth = await require(request, "security-officer")
    if fmt not in ("csv", "jsonl"):
        raise await refused(request, "log.export", NotFound("この形式では書き出せません（csv または jsonl）。",
                                                              "export as csv or jsonl."))
    f = await _filter_of(request)
    gw = gw_of(request)
    await run_in_threadpool(_record_export, gw, auth, fmt, request)
    stamp = f"{to_jst(gw.clock.now()):%Y%m%d-%H%M}"
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
    return StreamingResponse(iterate_in_threadpool(_export_lines(gw, auth.org, f, fmt)), media_type=media,
                             headers={"content-disposition": f'attachment; filename="access-log-{stamp}.{fmt}"'})


@router.get("/entry/{seq}")
async def entry_page(request: Request, seq: str) -> Response:
    auth = await require(request, "security-officer")
    found = await run_in_threadpool(queries.log_entry, gw_of(request), auth.org, int(seq)) if seq.isdigit() else None
    if found is None:
        raise await refused(request, "log.read", NotFound(
            f"記録 #{seq[:12]} はないか、あなたの市に関するものではありません。",
            f"entry #{seq[:12]} does not exist or does not concern your city."))
    document = json.dumps(found["document"], ensure_ascii=False, indent=2) if found["document"] else None
    return render(request, "officer_entry.html", e=found["entry"], found=found, document=document)


@router.get("/chain")
async def chain_page(request: Request) -> Response:
    await require(request, "security-officer")
    status = await run_in_threadpool(queries.chain_status, gw_of(request))
    return render(request, "officer_chain.html", chain=status)


@router.get("/approvals")
async def approvals_page(request: Request) -> Response:
    auth = await require(request, "security-officer")
    rows = await run_in_threadpool(queries.approval_states, gw_of(request), auth.org)
    return render(request, "officer_approvals.html", approvals=rows, reminder_labels=labels.REMINDERS)


def _city_approval(gw: Gateway, auth: Auth, approval: str, action: str) -> None:
    approvals, _ = queries.officer_orgs(gw, auth.org)
    if approval not in approvals:
        raise refuse(gw, actor_of(auth), action, NotFound(
            f"承認「{approval}」は見つかりません。", f"no approval '{approval}' for your organisation."),
            channel=CHANNEL, source=auth.source)


def _auditor() -> str:
    audit = Path(sys.executable).with_name("audit")
    return str(audit) if audit.exists() else (shutil.which("audit") or "audit")


def audit_run(gw: Gateway, auth: Auth, approval: str) -> tuple[dict[str, Any], str]:
    """Export the approval's evidence bundle and let the independent auditor (a separate program
    that never imports the gateway) verify it and report its findings, under the trust policy
    this installation published (`gateway keys publish`): the same roots of trust a council member
    holds, never the keys the bundle brings. Returns the report and its HTML rendering."""
    _city_approval(gw, auth, approval, "audit.report")
    with tempfile.TemporaryDirectory(prefix="portal-audit-") as tmp:
        bundle = Path(tmp) / "bundle"
        export_bundle(gw, bundle, approval=approval, actor=actor_of(auth))
        policy = Path(tmp) / "trust.toml"
        policy.write_text(published_text(gw), encoding="utf-8")
        html = Path(tmp) / "report.html"
        proc = subprocess.run([_auditor(), "report", str(bundle), "--json", "--trust", str(policy), "-o", str(html)],
                              capture_output=True, text=True, timeout=600)
        if proc.returncode not in (0, 1) or not proc.stdout.strip():
            raise Unavailable("監査レポートを作成できませんでした。管理者に連絡してください。",
                              f"the auditor failed: {proc.stderr.strip()[:300]}")
        return json.loads(proc.stdout), html.read_text(encoding="utf-8") if html.exists() else ""


def audit_report(gw: Gateway, auth: Auth, approval: str) -> dict[str, Any]:
    return audit_run(gw, auth, approval)[0]


def bundle_archive(gw: Gateway, auth: Auth, approval: str) -> bytes:
    """The approval's evidence bundle as a .tar.gz, for the officer to hand to an auditor."""
    _city_approval(gw, auth, approval, "evidence.export")
    with tempfile.TemporaryDirectory(prefix="portal-bundle-") as tmp:
        bundle = Path(tmp) / f"evidence-{approval}"
        export_bundle(gw, bundle, approval=approval, actor=actor_of(auth))
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            tar.add(bundle, arcname=bundle.name)
        return buf.getvalue()


def verdict(report: dict[str, Any]) -> tuple[str, str, str]:
    """The auditor's verdict in words (css class, Japanese, English)."""
    if report.get("unverifiable"):
        return ("bad", "検証できません（信頼ポリシーがありません）", "unverifiable: no trust policy")
    if report.get("verified"):
        return ("good", "検証済み：ログと証跡は改ざんされておらず、信頼ポリシーの鍵で署名されています",
                "verified: the log and evidence are intact and signed by the keys of the trust policy")
    return ("bad", "検証できませんでした：下の問題を確認してください", "not verified: see the problems below")


@router.get("/report")
async def report_page(request: Request) -> Response:
    auth = await require(request, "security-officer")
    gw = gw_of(request)
    approvals, _ = await run_in_threadpool(queries.officer_orgs, gw, auth.org)
    chosen = (request.query_params.get("approval") or "")[:64] or None
    report = None
    if chosen:
        report = await run_in_threadpool(audit_report, gw, auth, chosen)
    return render(request, "officer_report.html", approvals=approvals, chosen=chosen, report=report,
                  verdict=verdict(report) if report else None, link=urlencode({"approval": chosen or ""}))


@router.get("/report/html")
async def report_html(request: Request) -> Response:
    """The auditor's own HTML report, as a file to keep (it is the auditor's page, not the portal's)."""
    auth = await require(request, "security-officer")
    approval = (request.query_params.get("approval") or "")[:64]
    _, html = await run_in_threadpool(audit_run, gw_of(request), auth, approval)
    return Response(html.encode("utf-8"), media_type="text/html; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="audit-report-{approval}.html"'})


@router.get("/report/bundle")
async def report_bundle(request: Request) -> Response:
    auth = await require(request, "security-officer")
    approval = (request.query_params.get("approval") or "")[:64]
    data = await run_in_threadpool(bundle_archive, gw_of(request), auth, approval)
    return Response(data, media_type="application/gzip", headers={
        "content-disposition": f'attachment; filename="evidence-{approval}.tar.gz"'})
