"""Security officers: read-only views of the access log, the chain, approvals' states and the
independent auditor's report, limited to their city's approvals and the organisations they reach."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from gateway.channels.lgwan_asp import queries
from gateway.channels.lgwan_asp.sessions import Auth
from gateway.channels.lgwan_asp.web import CHANNEL, actor_of, gw_of, refused, render, require
from gateway.clock import JST
from gateway.errors import Invalid, NotFound, Unavailable
from gateway.operations.attempt import refuse
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

    outcome = get("outcome")
    return queries.LogFilter(since=_instant(get("since")), until=_instant(get("until")), actor=get("actor"),
                             org=get("org"), approval=get("approval"), action=get("action"),
                             outcome=outcome if outcome in ("ok", "refused", "failed") else None,
                             limit=int(get("limit") or 500) if (get("limit") or "500").isdigit() else 500)


@router.get("")
async def log_page(request: Request) -> Response:
    auth = await require(request, "security-officer")
    try:
        f = log_filter(request.query_params)
    except ValueError:
        raise await refused(request, "log.read", Invalid("日時は YYYY-MM-DDTHH:MM で入力してください。",
                                                           "enter times as YYYY-MM-DDTHH:MM.")) from None
    rows = await run_in_threadpool(queries.log_entries, gw_of(request), auth.org, f)
    return render(request, "officer_log.html", rows=rows, q=request.query_params)


@router.get("/chain")
async def chain_page(request: Request) -> Response:
    await require(request, "security-officer")
    status = await run_in_threadpool(queries.chain_status, gw_of(request))
    return render(request, "officer_chain.html", chain=status)


@router.get("/approvals")
async def approvals_page(request: Request) -> Response:
    auth = await require(request, "security-officer")
    rows = await run_in_threadpool(queries.approval_states, gw_of(request), auth.org)
    return render(request, "officer_approvals.html", approvals=rows)


def audit_report(gw: Gateway, auth: Auth, approval: str) -> dict[str, Any]:
    """Export the approval's evidence bundle and let the independent auditor (a separate program
    that never imports the gateway) verify it and report its findings, under the trust policy
    this installation published (`gateway keys publish`): the same roots of trust a council member
    holds, never the keys the bundle brings."""
    approvals, _ = queries.officer_orgs(gw, auth.org)
    if approval not in approvals:
        raise refuse(gw, actor_of(auth), "audit.report", NotFound(
            f"承認「{approval}」は見つかりません。", f"no approval '{approval}' for your organisation."),
            channel=CHANNEL, source=auth.source)
    with tempfile.TemporaryDirectory(prefix="portal-audit-") as tmp:
        bundle = Path(tmp) / "bundle"
        export_bundle(gw, bundle, approval=approval, actor=actor_of(auth))
        policy = Path(tmp) / "trust.toml"
        policy.write_text(published_text(gw), encoding="utf-8")
        audit = Path(sys.executable).with_name("audit")
        binary = str(audit) if audit.exists() else (shutil.which("audit") or "audit")
        proc = subprocess.run([binary, "report", str(bundle), "--json", "--trust", str(policy)],
                              capture_output=True, text=True, timeout=600)
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        raise Unavailable("監査レポートを作成できませんでした。管理者に連絡してください。",
                          f"the auditor failed: {proc.stderr.strip()[:300]}")
    return json.loads(proc.stdout)


@router.get("/report")
async def report_page(request: Request) -> Response:
    auth = await require(request, "security-officer")
    gw = gw_of(request)
    approvals, _ = await run_in_threadpool(queries.officer_orgs, gw, auth.org)
    chosen = request.query_params.get("approval")
    report = None
    if chosen:
        report = await run_in_threadpool(audit_report, gw, auth, chosen[:64])
    return render(request, "officer_report.html", approvals=approvals, chosen=chosen, report=report)
