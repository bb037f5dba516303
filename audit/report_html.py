"""The HTML report a city attaches to its annual report to the privacy council (Japanese first).

Every value comes from an untrusted bundle, so the template autoescapes everything; nothing is
marked safe.
"""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from audit import __version__, timefmt
from audit.findings import Report
from audit.kinds import KIND_LABELS

_TEMPLATES = Path(__file__).resolve().parent / "templates"

DECISIONS = {"approved": "承認", "approved-with-conditions": "条件付き承認", "deferred": "継続審議（承認なし）"}
CHANNELS = {"lgwan-asp": "LGWAN-ASP", "vpn-sftp": "VPN（SFTP）", "courier": "媒体の手渡し・セキュリティ便",
            "hotfolder": "ホットフォルダ", "cli": "管理端末", "system": "システム"}
SEVERITIES = {"violation": "違反", "warning": "警告", "info": "情報"}
EVENTS = {"handover": "引渡し", "return": "返却", "lost": "紛失"}


def _when(value: Any) -> str:
    at = timefmt.parse(value)
    return timefmt.jst(at) if at is not None else ("—" if value is None else str(value))


def _party(value: Any) -> str:
    if not isinstance(value, dict):
        return "—"
    return " / ".join(str(value[k]) for k in ("person", "user", "org") if value.get(k))


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(_TEMPLATES)), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = _when
    env.filters["party"] = _party
    env.filters["count"] = lambda n: f"{n:,}" if isinstance(n, int) else "—"
    return env


def render(report: Report) -> str:
    v = report.verification
    findings = report.findings
    by_approval: dict[str | None, list[Any]] = {}
    for f in findings:
        by_approval.setdefault(f.approval if f.approval in {a["id"] for a in report.approvals} else None, []).append(f)
    return _environment().get_template("report.html.j2").render(
        v=v, report=report, approvals=report.approvals, by_approval=by_approval,
        general=by_approval.get(None, []), kinds=KIND_LABELS, decisions=DECISIONS, channels=CHANNELS,
        severities=SEVERITIES, events=EVENTS, created_at=_when(v.manifest.get("created_at") if v.manifest else None),
        generated=timefmt.jst(datetime.now(UTC)), version=__version__,
    )


def render_annual(summary: dict[str, Any]) -> str:
    """The fiscal-year summary (audit/annual.py) in Japanese, for the 運用状況報告."""
    return _environment().get_template("annual.html.j2").render(s=summary)
