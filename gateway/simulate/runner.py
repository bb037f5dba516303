"""Running a scenario on a fake clock, through the channels, into an audited evidence bundle.

The clock only moves forward. Whenever it passes a retention deadline, the retention scheduler
runs at that instant, as `gateway serve` does (unless a fault stops it). Every step acts as one of
the scenario's people through the channel the hand-over uses (`desks.py`); a step a fault marks as
expected to be refused must be refused, and with the kind the fault names.

The log is witnessed throughout, as a city's would be: before the first step a witness (the
council secretariat's, its own process, key and state under `DIR/witness/`) is configured and the
trust policy naming it is published to `DIR/trust.toml`; the auditor verifies the bundle under
that policy, never unpinned.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway import installation
from gateway.clock import FixedClock, to_jst
from gateway.core.approvals import Approval
from gateway.data import approvals_dir
from gateway.errors import GatewayError, Invalid
from gateway.home import Home
from gateway.ledger.log import Actor, Event
from gateway.operations.accounts import Caller, add_user
from gateway.operations.export import export_bundle
from gateway.operations.external import declare
from gateway.operations.handlers import amend_handlers, parse_new_handler
from gateway.operations.lifecycle import disable
from gateway.retention.sweep import sweep
from gateway.service import Gateway
from gateway.simulate import files, safeguard_steps, signatures
from gateway.simulate.command_line import OPERATOR
from gateway.simulate.desks import Desks
from gateway.simulate.faults import earliest, inject
from gateway.simulate.run import Run
from gateway.simulate.scenario import Scenario, Step
from gateway.simulate.sealed import rehearsal_database
from gateway.simulate.witness import Witnessed, origin_of
from gateway.store import models as m
from gateway.store.registry import get_approval, register_approval

SIMULATOR = Actor(user="simulator", role="admin")


class StepFailed(Invalid):
    """A step of the scenario did not go as the scenario says (refused, or not refused when it should be)."""


def simulate(scenario: Scenario, out: Path, *, records: int | None, seed: int, faults: list[str],
             echo: Callable[[str], None] = print, rehearsal_db: str | None = None) -> dict[str, Any]:
    """Run `scenario` into the new directory `out`. Its home is a sealed rehearsal home (sealed.py):
    SQLite inside `out`, or the empty database `rehearsal_db`; `$GATEWAY_DB_URL` is never read."""
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
    # Time never goes back in the log: the home starts at the earliest time a step will use.
    clock = FixedClock(earliest(scenario, injected))
    home = Home(out / "home")
    installation.init(home, rehearsal=True, clock=clock, sealed_db_url=rehearsal_database(home, rehearsal_db),
                      origin=origin_of(scenario), operator=OPERATOR)
    echo(f"宛名ファイルを生成 / generating {scenario.records:,} synthetic recipients ({scenario.schema}) …")
    population = files.population(out / "data", scenario, seed)
    policy = out / "trust.toml"
    with Gateway.open(home, clock) as gw, Desks(gw) as desks, \
            Witnessed(gw, out / "witness", scenario, policy, SIMULATOR) as witness:
        echo(f"ウィットネス / witness: {witness.name} at {witness.url}; 信頼ポリシー / trust policy: {policy}")
        run = Run(scenario, out, gw, clock, desks, population, witness, echo=echo)
        _prepare(run)
        steps, tamper = inject(run, list(scenario.steps), injected)
        for n, step in enumerate(steps, start=1):
            at = step.get("at")
            _advance(run, datetime.fromisoformat(at) if at else clock.now() + step.after)
            t0 = time.perf_counter()
            _do(run, step)
            # Scenario time runs faster than the submitter polls: nudge it after each step, as
            # the minutes between steps would in `gateway serve`.
            if witness.submitter is not None:
                witness.submitter.wake.set()
            echo(f"[{n:>2}/{len(steps)}] {to_jst(clock.now()):%Y-%m-%d %H:%M} {step.action:<8} "
                 f"{step.get('transfer') or step.get('id') or ''} ({time.perf_counter() - t0:.1f} s)")
        bundle = Path(run.transfers["__bundle__"]["path"])
    for kind in tamper:
        tamper[kind](bundle)
    report = _audit(bundle, out, policy)
    signed = signatures.check_with_ssh_keygen(bundle)
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
        "trust": str(policy),
        "witnesses": [w.split("+", 1)[0] for w in (report.get("trust") or {}).get("witnesses", [])],
        "rests_on": rests_on(report),
        # The contractors' own signatures: how many the auditor and stock ssh-keygen verified.
        "attestations": {**report.get("attestations", {}).get("by_strength", {}), **signed,
                         "audit_verified": _signed_and_verified(report)},
    }


def rests_on(report: dict[str, Any]) -> str:
    """One line: which policy and which witnesses the auditor's verdict rests on, as it reported."""
    trust = report.get("trust")
    if not trust:
        return "信頼ポリシーなし（検証不能） / no trust policy: unverifiable"
    names = ", ".join(w.split("+", 1)[0] for w in trust["witnesses"]) or "なし / none"
    keys = ", ".join(k.split("+")[1] for k in trust["log_keys"])
    seen = report.get("witnessed")
    return (f"信頼の根拠 / verdict rests on: {trust['path']} (sha256 {trust['sha256'][:16]}): log {trust['origin']}"
            f" key {keys}; witnesses {names}, quorum {trust['quorum']}"
            + (f"; witnessed up to entry {seen}" if seen is not None else ""))


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


def _deliver(run: Run, step: Step) -> None:
    t = run.transfers[step.get("transfer")]
    done = run.desks.deliver(step, t)
    run.echo(f"  納品 / delivered {t['transfer']}: {step.get('quantity')} ({step.get('content')})")
    t["delivery"] = done


def _confirm_condition(run: Run, step: Step) -> None:
    """City staff record that a condition no rule checks was met, and by what."""
    staff = run.desks.staff(step)
    run.desks.cli("approval", "confirm", str(step.get("approval")), "--condition", str(step.get("condition")),
                  "--means", str(step.get("means")), "--json", as_user=staff)
    run.echo(f"  条件確認 / condition {step.get('condition')} of {step.get('approval')} confirmed")


def _duty(run: Run, step: Step) -> None:
    """City staff record a duty of the contract done (an inspection, a report), from its paper."""
    staff = run.desks.staff(step)
    args = ["duty", "record", str(step.get("approval")), "--duty", str(step.get("duty")), "--on",
            run.clock.now().isoformat(), "--means", str(step.get("means")), "--json"]
    if step.get("handler"):
        args += ["--handler", str(step.get("handler"))]
    run.desks.cli(*args, as_user=staff)
    run.echo(f"  義務 / duty {step.get('duty')} of {step.get('approval')} recorded")


def _exclusion_import(run: Run, step: Step) -> None:
    """The ward takes in the list it keeps apart from the export (DV support measures), as keyed
    hashes only. The list is synthetic: one person in every `every` of the export is on it, never
    the first (the faulty files repeat the first record and must not vanish by being listed). It is
    the ward's own file (under DIR/city/, outside the gateway's home)."""
    import csv

    from gateway.core.records.fields import header_label

    key_field = str(step.get("key_field", "resident_number"))
    every = int(step.get("every", 500))
    city = run.out / "city"
    city.mkdir(mode=0o700, exist_ok=True)
    listed = city / f"{step.get('population')}-list.csv"
    encoding = run.scenario.encoding
    with run.population.open("r", encoding=encoding, newline="") as src, \
            listed.open("w", encoding="utf-8", newline="") as out:
        rows = csv.reader(src)
        column = next(rows).index(header_label(key_field))
        out.write(f"{header_label(key_field)}\n")
        for n, row in enumerate(rows):
            if n % every == 1 % every:
                out.write(f"{row[column]}\n")
    done = run.desks.cli("exclusion", "import", str(step.get("population")), "--key-field", key_field, "-i",
                         str(listed), "--json", as_user=run.desks.staff(step)).json()
    run.echo(f"  除外リスト / {done['entries']} entries for {step.get('population')} taken in as keyed hashes")


def _delete(run: Run, step: Step) -> None:
    run.desks.delete(step, run.transfers[step.get("transfer")])


def _sweep(run: Run, step: Step) -> None:
    sweep(run.gw)


def _declare(run: Run, step: Step) -> None:
    declare(run.gw, Caller(step.get("as"), "cli"), sender_org=step.get("sender"), recipient=step.get("recipient"),
            description=step.get("description"), records=int(step.get("records")),
            handed_over_at=run.clock.now() - timedelta(days=30))


def _leave(run: Run, step: Step) -> None:
    """A handler leaves mid-contract (退職・異動): under the city's decision the administrator
    amends the approval's handler list (the approval is not registered again) and disables the
    leaver's account; the successor gets a key and a portal terminal as the others did, and acts
    for the contractor from then on."""
    t = run.transfers[step.get("transfer")]
    leaver, successor = str(step.get("login")), str(step.get("successor"))
    amend_handlers(run.gw, t["approval"], org=t["recipient"], add=[successor], remove=[leaver],
                   decision_ref=str(step.get("decision")), reason=str(step.get("reason", "退職")), actor=SIMULATOR)
    disable(run.gw, leaver, reason=str(step.get("reason", "退職")), actor=SIMULATOR)
    new = parse_new_handler(successor).login
    run.desks.enrol_handler(new)
    run.echo(f"  取扱者の交代 / handler {leaver} left, {new} designated ({step.get('decision')})")


def _logins(run: Run, step: Step) -> None:
    t = run.transfers[step.get("transfer")]
    run.desks.failed_logins(run.desks.handler(Step("logins", step.after, {}), t), int(step.get("attempts", 10)))


def _blob(run: Run, step: Step) -> None:
    """The gateway's disk damages a package file (`do = "corrupt"`: one byte flipped, a copy kept
    as the backup), or the administrator restores it from that backup (`do = "restore"`)."""
    t = run.transfers[step.get("transfer")]
    with run.gw.read() as session:
        row = session.get(m.Transfer, t["transfer"])
        assert row is not None  # a transfer the scenario sent
        blob_id = row.package_blob_id
    path = run.gw.blobs().path(blob_id)
    backup = run.out / "backup" / blob_id
    if step.get("do") == "corrupt":
        backup.parent.mkdir(mode=0o700, exist_ok=True)
        shutil.copy2(path, backup)
        with path.open("r+b") as f:  # inside the first chunk: the first read fails to authenticate
            f.seek(100)
            byte = f.read(1)
            f.seek(100)
            f.write(bytes([byte[0] ^ 0x01]))
        run.echo(f"  障害 / damaged the gateway's copy of {t['transfer']}")
    else:
        os.replace(backup, path)
        run.echo(f"  復元 / restored {t['transfer']} from the backup")


def _wait(run: Run, step: Step) -> None:
    """Time passes; nothing happens (a step a fault took away)."""


def _witness(run: Run, step: Step) -> None:
    """The witness goes down (a fault): what is logged from here on is cosigned by nobody."""
    run.witness.stop()


def _export(run: Run, step: Step) -> None:
    bundle = run.out / "bundle"
    export_bundle(run.gw, bundle, approval=None, actor=SIMULATOR)
    run.transfers["__bundle__"] = {"path": str(bundle)}


def _signed_and_verified(report: dict[str, Any]) -> int:
    return sum(1 for a in report.get("approval_summaries", []) for t in a["transfers"]
               for group in ("receipts", "deletion_requests", "erasure_certificates", "deliverable_declarations")
               for d in t.get(group, []) if d.get("attested", {}).get("strength") == "signed"
               and d["attested"].get("verified"))


def _audit(bundle: Path, out: Path, policy: Path) -> dict[str, Any]:
    """The independent auditor, as a security officer runs it: a separate program, pinned to the
    trust policy the city published."""
    html = out / "report.html"
    proc = subprocess.run([sys.executable, "-m", "audit", "report", str(bundle), "--json", "-o", str(html),
                           "--trust", str(policy)], capture_output=True, text=True)
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        raise Invalid("監査プログラムが報告を作れませんでした。", f"the auditor produced no report: {proc.stderr[-500:]}")
    (out / "report.json").write_text(proc.stdout, encoding="utf-8")
    return json.loads(proc.stdout)


ACTIONS: dict[str, Callable[[Run, Step], None]] = {
    "send": _send, "notice": _notice, "download": _download, "confirm": _confirm, "relay": _relay, "push": _push,
    "courier": _courier, "deliver": _deliver, "confirm-condition": _confirm_condition, "duty": _duty,
    "exclusion-import": _exclusion_import,
    "delete": _delete,
    "sweep": _sweep, "declare": _declare, "leave": _leave, "logins": _logins, "wait": _wait,
    "export": _export, "blob": _blob, "witness-down": _witness,
    **safeguard_steps.ACTIONS,
}


def approval_of(run: Run, approval_id: str) -> Approval:
    with run.gw.unit() as session:
        return get_approval(session, approval_id)
