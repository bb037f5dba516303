"""Running a scenario on a fake clock, through the channels, into an audited evidence bundle.

The clock only moves forward. Whenever it passes a retention deadline, the retention scheduler
runs at that instant, as `gateway serve` does (unless a fault stops it). Every step acts as one of
the scenario's people through the channel the hand-over uses (`desks.py`); a step a fault marks as
expected to be refused must be refused, and with the kind the fault names.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import select

from gateway import installation
from gateway.clock import FixedClock, to_jst
from gateway.crypto.keystore import KeyStore
from gateway.data import approvals_dir
from gateway.errors import GatewayError, Invalid
from gateway.home import Home
from gateway.ledger.log import Actor, Event
from gateway.operations.accounts import Caller, add_user
from gateway.operations.export import export_bundle
from gateway.operations.external import declare
from gateway.retention.sweep import sweep
from gateway.service import Gateway
from gateway.simulate import files
from gateway.simulate.desks import Desks
from gateway.simulate.faults import inject
from gateway.simulate.run import Run
from gateway.simulate.scenario import Scenario, Step
from gateway.store import models as m
from gateway.store.registry import get_approval, register_approval

SIMULATOR = Actor(user="simulator", role="admin")


class StepFailed(Invalid):
    """A step of the scenario did not go as the scenario says (refused, or not refused when it should be)."""


def simulate(scenario: Scenario, out: Path, *, records: int | None, seed: int, faults: list[str],
             echo: Callable[[str], None] = print) -> dict[str, Any]:
    started = time.perf_counter()
    if out.exists() and any(out.iterdir()):
        raise Invalid(f"{out} は空ではありません。新しい出力先を指定してください。",
                           f"{out} is not empty; choose a new output directory.")
    out.mkdir(parents=True, exist_ok=True)
    if records is not None:
        scenario = replace(scenario, records=records)
    if "excluded-person" in faults or "excluded-person" in scenario.faults:
        # The city's export forgets to filter the persons the approval keeps from the contractor.
        scenario = replace(scenario, excluded_rate=max(scenario.excluded_rate, 0.01))
    injected = sorted(set(faults) | set(scenario.faults))
    clock = FixedClock(scenario.start)
    home = Home(out / "home")
    # The portal's CA and TLS certificate are checked by real TLS clients against the real time:
    # they are made on the real clock, as by a `gateway init` run today before the rehearsal.
    KeyStore(home.keys).ensure(now=datetime.now(timezone.utc))
    installation.init(home, at=clock.now())
    echo(f"宛名ファイルを生成 / generating {scenario.records:,} synthetic recipients ({scenario.schema}) …")
    population = files.population(out / "data", scenario, seed)
    with Gateway.open(home, clock) as gw, Desks(gw) as desks:
        run = Run(scenario, out, gw, clock, desks, population, echo=echo)
        _prepare(run)
        steps, tamper = inject(run, list(scenario.steps), injected)
        for n, step in enumerate(steps, start=1):
            at = step.get("at")
            _advance(run, datetime.fromisoformat(at) if at else clock.now() + step.after)
            t0 = time.perf_counter()
            _do(run, step)
            echo(f"[{n:>2}/{len(steps)}] {to_jst(clock.now()):%Y-%m-%d %H:%M} {step.action:<8} "
                 f"{step.get('transfer') or step.get('id') or ''} ({time.perf_counter() - t0:.1f} s)")
        bundle = Path(run.transfers["__bundle__"]["path"])
    for kind in tamper:
        tamper[kind](bundle)
    report = _audit(bundle, out)
    return {
        "scenario": scenario.name,
        "records": scenario.records,
        "transfers": len([k for k in run.transfers if not k.startswith("__")]),
        "channels": sorted(run.channels),
        "seconds": round(time.perf_counter() - started, 2),
        "bundle": str(bundle),
        "injected": injected,
        "findings": sorted({f["kind"] for f in report["findings"] if f["severity"] in ("warning", "violation")}),
        "verified": report["verified"],
        "report": str(out / "report.html"),
    }


def _prepare(run: Run) -> None:
    gw = run.gw
    with gw.unit() as session:
        for approval_id in run.scenario.approvals:
            path = approvals_dir() / f"{approval_id}.toml"
            _, new = register_approval(session, path, actor="simulator", at=gw.clock.now())
            if new:
                gw.ledger.record(session, Event(action="approval.add", channel="cli", actor=SIMULATOR,
                                                approval=approval_id, reason=f"registered {path.name}"))
        for u in run.scenario.users:
            if session.scalar(select(m.User).where(m.User.login == u.login)) is None:
                add_user(session, login=u.login, name=u.name, org=u.org, role=u.role, at=gw.clock.now())
    run.desks.enrol(run.scenario)


def _advance(run: Run, to: datetime) -> None:
    """Move the clock to `to`, running the retention scheduler at every deadline on the way."""
    while run.sweeping:
        with run.gw.unit() as session:
            due = session.scalar(select(m.Transfer.gateway_erase_due).where(m.Transfer.erased_at.is_(None))
                                 .order_by(m.Transfer.gateway_erase_due).limit(1))
        if due is None or due > to:
            break
        run.clock.set(max(due, run.clock.now()))
        sweep(run.gw)
    run.clock.set(max(to, run.clock.now()))


def _do(run: Run, step: Step) -> None:
    expect = step.get("expect")  # "refused:<kind>" for a fault's attempt
    try:
        ACTIONS[step.action](run, step)
    except GatewayError as err:
        wanted = expect.split(":", 1)[1] if expect and expect.startswith("refused:") else None
        if wanted is not None and wanted in err.kinds:
            run.echo(f"  拒否を確認 / refused as expected: {wanted}")
            return
        raise StepFailed(f"手順「{step.action}」が失敗しました: {err.ja}",
                         f"step '{step.action}' failed: {err.en}") from err
    if expect:
        raise StepFailed(f"手順「{step.action}」は拒否されるはずでした（{expect}）。",
                         f"step '{step.action}' should have been refused ({expect}).")


def _send(run: Run, step: Step) -> None:
    source = files.for_step(run, step)
    result = run.desks.send(step, source)
    run.channels.add(result["channel"])
    run.transfers[step.get("id", result["transfer"])] = result
    run.echo(f"  送付 / sent {result['transfer']}: {result['records']:,} 件 via {result['channel']}")


def _notice(run: Run, step: Step) -> None:
    run.desks.notice(step, run.transfers[step.get("transfer")])


def _download(run: Run, step: Step) -> None:
    t = run.transfers[step.get("transfer")]
    run.desks.download(step, t)
    run.channels.add(t["channel"])


def _confirm(run: Run, step: Step) -> None:
    run.desks.confirm(step, run.transfers[step.get("transfer")])


def _relay(run: Run, step: Step) -> None:
    parent = run.transfers[step.get("transfer")]
    result = run.desks.relay(step, parent)
    run.channels.add(result["channel"])
    run.transfers[step.get("id", result["transfer"])] = result
    run.echo(f"  中継 / relayed {result['transfer']} to {result['recipient']} via {result['channel']}")


def _push(run: Run, step: Step) -> None:
    t = run.transfers[step.get("transfer")]
    done = run.desks.push(step, t)
    run.channels.add(t["channel"])
    run.echo(f"  送信 / pushed {t['transfer']} to {done['destination']} ({done['size']:,} bytes)")


def _courier(run: Run, step: Step) -> None:
    run.desks.courier(step, run.transfers[step.get("transfer")])
    run.channels.add("courier")


def _delete(run: Run, step: Step) -> None:
    run.desks.delete(step, run.transfers[step.get("transfer")])


def _sweep(run: Run, step: Step) -> None:
    sweep(run.gw)


def _declare(run: Run, step: Step) -> None:
    declare(run.gw, Caller(step.get("as"), "cli"), sender_org=step.get("sender"), recipient=step.get("recipient"),
            description=step.get("description"), records=int(step.get("records")),
            handed_over_at=run.clock.now() - timedelta(days=30))


def _logins(run: Run, step: Step) -> None:
    t = run.transfers[step.get("transfer")]
    run.desks.failed_logins(run.desks.handler(Step("logins", step.after, {}), t), int(step.get("attempts", 10)))


def _wait(run: Run, step: Step) -> None:
    """Time passes; nothing happens (a step a fault took away)."""


def _export(run: Run, step: Step) -> None:
    bundle = run.out / "bundle"
    export_bundle(run.gw, bundle, approval=None, actor=SIMULATOR)
    run.transfers["__bundle__"] = {"path": str(bundle)}


def _audit(bundle: Path, out: Path) -> dict[str, Any]:
    """The independent auditor, as a security officer runs it: a separate program."""
    html = out / "report.html"
    proc = subprocess.run([sys.executable, "-m", "audit", "report", str(bundle), "--json", "-o", str(html)],
                          capture_output=True, text=True)
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        raise Invalid("監査プログラムが報告を作れませんでした。", f"the auditor produced no report: {proc.stderr[-500:]}")
    (out / "report.json").write_text(proc.stdout, encoding="utf-8")
    return json.loads(proc.stdout)


ACTIONS: dict[str, Callable[[Run, Step], None]] = {
    "send": _send, "notice": _notice, "download": _download, "confirm": _confirm, "relay": _relay, "push": _push,
    "courier": _courier, "delete": _delete, "sweep": _sweep, "declare": _declare, "logins": _logins, "wait": _wait,
    "export": _export,
}


def approval_of(run: Run, approval_id: str):  # type: ignore[no-untyped-def]
    with run.gw.unit() as session:
        return get_approval(session, approval_id)
