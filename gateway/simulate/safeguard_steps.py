"""Scenario steps of the hand-over's safeguards (issue 20): the second check of a held send, a
recall, incidents with the city's instruction, and an outside hand-over with its later approval.
Each is what its person does at the gateway's command line (staff as themselves; a contractor's
paper entered by staff)."""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from gateway.errors import Invalid
from gateway.simulate.run import Run
from gateway.simulate.scenario import Step

_DURATION = re.compile(r"^(\d+)([mhd])$")


def _later(run: Run, text: str) -> str:
    match = _DURATION.match(text)
    if match is None:
        raise Invalid(f"期限「{text}」は 30m, 2h, 1d の形で書いてください。", f"write the deadline '{text}' as 30m, 2h or 1d.")
    unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return (run.clock.now() + timedelta(**{unit: int(match.group(1))})).isoformat()


def check(run: Run, step: Step) -> None:
    """`do = "approve" | "reject"`, by `as` (an approver the approval names)."""
    t = run.transfers[step.get("transfer")]
    verb = step.get("do", "approve")
    done = run.desks.act(step.get("as"), "second-check", verb, t["transfer"], "--reason",
                         step.get("reason", "宛先・件数・項目を確認した"), "--json",
                         paper=f"二重確認票 {t['transfer']}").json()
    if verb == "approve":
        t["passphrase"] = done["passphrase"]  # the notice the check released
    run.echo(f"  二重確認 / second check {verb}d {t['transfer']}")


def recall(run: Run, step: Step) -> None:
    t = run.transfers[step.get("transfer")]
    done = run.desks.act(run.desks.staff(step), "transfer", "recall", t["transfer"], "--reason",
                         step.get("reason", "誤送付"), "--json", paper=f"回収依頼 {t['transfer']}").json()
    t["recalled"] = done
    if done["incident"]:
        run.transfers[f"incident:{step.get('incident', t['transfer'])}"] = {"incident": done["incident"],
                                                                           "about": step.get("transfer")}
    run.echo(f"  回収 / recalled {t['transfer']}" + (" after delivery" if done["downloaded"] else ""))


def incident(run: Run, step: Step) -> None:
    do, key = step.get("do"), f"incident:{step.get('id')}"
    if do in ("report", "record"):
        about_key = step.get("transfer") or run.transfers.get(key, {}).get("about")
        t = run.transfers.get(about_key, {}) if about_key else {}
        facts = ["--content", step.get("content"), "--records", str(step.get("records")), "--place", step.get("place"),
                 "--circumstances", step.get("circumstances")]
        about = ["--transfer", t["transfer"]] if t else ["--approval", step.get("approval")]
        if do == "report":  # the contractor's own report, on paper to the city
            if key in run.transfers:
                about = ["--incident", run.transfers[key]["incident"]]
            person, paper = step.get("as") or run.desks.handler(step, t), "事故報告書"
        else:
            person, paper = run.desks.staff(step), "事故記録"
            if step.get("due"):
                about += ["--contractor", t["recipient"], "--report-due", _later(run, step.get("due"))]
        filed = run.desks.act(person, "incident", "report", *about, *facts, "--json", paper=paper).json()
        run.transfers[key] = {"incident": filed["incident"], "about": about_key}
        run.echo(f"  事故 / incident {filed['incident']} ({do})")
        return
    found = run.transfers[key]["incident"]
    args: list[str]
    if do == "instruct":
        args = ["instruct", found, "--instruction", step.get("instruction"), "--due", _later(run, step.get("due"))]
        person = run.desks.staff(step)
    elif do == "done":
        args, person = ["done", found, "--note", step.get("note", "指示のとおり実施した")], step.get("as")
    elif do == "publication":
        args = ["publication", found, "--publish" if step.get("publish") else "--withhold", "--reason",
                step.get("reason")]
        person = run.desks.staff(step)
    elif do == "close":
        args, person = ["close", found, "--summary", step.get("summary")], run.desks.staff(step)
    else:
        raise Invalid(f"事故の手順「{do}」はありません。", f"no incident step '{do}'.")
    run.desks.act(person, "incident", *args, paper="事故対応記録")
    run.echo(f"  事故 / incident {found}: {do}")


def external(run: Run, step: Step) -> None:
    """A security officer records an outside hand-over (`id` names it for a later `regularise`)."""
    x = run.desks.act(step.get("as"), "incident", "external", "--sender-org", step.get("sender"), "--recipient",
                      step.get("recipient"), "--description", step.get("description"), "--records",
                      str(step.get("records")), "--handed-over-at", step.get("handed_over_at"), "--json",
                      paper="調査報告").json()
    run.transfers[f"external:{step.get('id')}"] = {"transfer": x["transfer"]}
    run.echo(f"  承認外の受渡し / outside hand-over {x['transfer']}")


def regularise(run: Run, step: Step) -> None:
    x = run.transfers[f"external:{step.get('external')}"]["transfer"]
    run.desks.act(step.get("as"), "incident", "regularise", x, "--approval", step.get("approval"), "--note",
                  step.get("note"), paper="審議会答申")
    run.echo(f"  事後承認 / regularised {x} by {step.get('approval')}")


ACTIONS: dict[str, Any] = {"check": check, "recall": recall, "incident": incident, "external": external,
                           "regularise": regularise}
