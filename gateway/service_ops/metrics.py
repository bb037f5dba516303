"""Prometheus metrics, read from the installation itself at each scrape.

Every figure comes from the database, not from counters in this process: a send made at the
command line, a login on the portal and a sweep by the scheduler all count, and a restart loses
nothing. The log is read incrementally (entries after the last one seen), so a scrape costs the
entries written since the previous one, not the whole log.

Exposition format 0.0.4 (text), the one every Prometheus version reads.
"""
from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import func, select

from gateway.retention.reminders import reminders
from gateway.service import Gateway
from gateway.store import models as m
from gateway.witnessing.lag import witness_lags

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LOCKOUT_KIND = "brute-force"


class Metrics:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self._lock = threading.Lock()  # one scrape at a time advances the log cursor
        self._seen = 0
        self._refusals: Counter[str] = Counter()
        self._logins: Counter[str] = Counter()
        self._lockouts: Counter[str] = Counter()

    def _read_log(self) -> None:
        with self.gw.read() as session:
            rows = session.execute(
                select(m.LogEntry.seq, m.LogEntry.action, m.LogEntry.outcome, m.LogEntry.body)
                .where(m.LogEntry.seq > self._seen).order_by(m.LogEntry.seq))
            for seq, action, outcome, body in rows:
                self._seen = seq
                if outcome == "refused":
                    entry = json.loads(body)
                    kinds = entry.get("kinds") or ["none"]
                    for kind in kinds:
                        self._refusals[kind] += 1
                    if LOCKOUT_KIND in kinds:
                        self._lockouts[entry.get("channel") or "unknown"] += 1
                elif action == "auth.login" and outcome == "ok":
                    self._logins[json.loads(body).get("channel") or "unknown"] += 1

    def render(self) -> str:
        with self._lock:
            self._read_log()
            with self.gw.read() as session:
                states = dict(session.execute(select(m.Transfer.state, func.count()).group_by(m.Transfer.state)).all())
                sent_bytes = session.scalar(
                    select(func.coalesce(func.sum(m.Blob.size), 0)).join(m.Transfer, m.Transfer.package_blob_id == m.Blob.id))
                entries = session.scalar(select(func.count()).select_from(m.LogEntry))
            due = Counter((r.kind, r.overdue) for r in reminders(
                self.gw, within=timedelta(days=self.gw.settings.portal.reminder_days)))
            out: list[str] = []
            _family(out, "gateway_transfers", "gauge", "Transfers by state.",
                    (({"state": s}, n) for s, n in sorted(states.items())))
            _family(out, "gateway_transfers_total", "counter", "Transfers ever sent.", [({}, sum(states.values()))])
            _family(out, "gateway_transfer_bytes_total", "counter", "Bytes of the packages ever sent.",
                    [({}, int(sent_bytes or 0))])
            _family(out, "gateway_refusals_total", "counter", "Refused actions by finding kind (none: no kind).",
                    (({"kind": k}, n) for k, n in sorted(self._refusals.items())))
            _family(out, "gateway_logins_total", "counter", "Successful logins by channel.",
                    (({"channel": c}, n) for c, n in sorted(self._logins.items())))
            _family(out, "gateway_lockouts_total", "counter", "Accounts or sources locked after repeated failures.",
                    (({"channel": c}, n) for c, n in sorted(self._lockouts.items())))
            _family(out, "gateway_due_items", "gauge", "Deadlines within the reminder window, and overdue ones.",
                    (({"kind": k, "overdue": str(o).lower()}, n) for (k, o), n in sorted(due.items())))
            _family(out, "gateway_log_entries", "gauge", "Entries in the access log.", [({}, int(entries or 0))])
            lags = witness_lags(self.gw)
            _family(out, "gateway_witness_lag_entries", "gauge",
                    "Log entries each active witness has not cosigned yet (0: caught up).",
                    (({"witness": lag.witness}, lag.entries) for lag in lags))
            _family(out, "gateway_witness_lag_seconds", "gauge",
                    "Seconds the oldest checkpoint each active witness has not cosigned has waited (0: caught up).",
                    (({"witness": lag.witness}, lag.seconds) for lag in lags))
            return "\n".join(out) + "\n"


def _family(out: list[str], name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, str], int]]) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} {kind}")
    for labels, value in samples:
        text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
        out.append(f"{name}{{{text}}} {value}" if text else f"{name} {value}")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
