"""`gateway demo`: the Kurume 2020 mailing at full size, on the embedded default (SQLite, local files).

Until the portal and SFTP channels land, the hand-over runs through the operations every channel
will call, as the command line drives them: 305,115 synthetic recipients are screened against the
council's approval, minimised, encrypted, stored, fetched by a designated handler, decrypted,
counted and confirmed; then the evidence is exported and verified by the independent auditor.
The clock is set inside the approval's period, as a rehearsal of 2020 would be.
"""
from __future__ import annotations

import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

from sqlalchemy import select

from gateway import installation
from gateway.clock import JST, FixedClock
from gateway.core.profiles import profiles_dir
from gateway.core.records.reader import scan
from gateway.core.screening import screen
from gateway.crypto import age
from gateway.fsutil import atomic_output
from gateway.home import Home
from gateway.ledger.export import export_bundle
from gateway.ledger.log import Actor, Event
from gateway.operations import notices
from gateway.operations.accounts import Caller, add_user
from gateway.operations.receive import confirm_receipt, download
from gateway.operations.send import SendRequest, send
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.registry import get_approval, get_profile, register_approval

APPROVAL_FILE = profiles_dir().parent / "simulations" / "approvals" / "kurume-2020-teigaku.toml"
APPROVAL = "kurume-2020-teigaku"
CONTRACTOR = "chikugo-print"
HANDLER = "k.tanaka"
STAFF = "demo.staff"
KURUME_2020 = 305_115
START = datetime(2020, 5, 18, 9, 30, tzinfo=JST)


@dataclass
class Step:
    name: str
    seconds: float


def run(home: Home, *, records: int = KURUME_2020, seed: int = 2020, echo: Callable[[str], None] = print) -> dict:
    steps: list[Step] = []

    def step(name: str, fn: Callable[[], object]) -> object:
        echo(f"… {name}")
        t0 = time.perf_counter()
        result = fn()
        steps.append(Step(name, time.perf_counter() - t0))
        echo(f"  ✓ {steps[-1].seconds:6.1f} s")
        return result

    clock = FixedClock(START)
    installation.init(home, at=clock.now())
    work = home.root / "demo"
    work.mkdir(mode=0o700, exist_ok=True)
    run_id = f"{clock.now():%Y%m%d}-{time.time_ns() % 10**6:06d}"
    source = work / f"kurume-2020-{records}.csv"

    with Gateway.open(home, clock) as gw:
        _prepare(gw)

        def generate() -> object:
            from gateway.synthetic import generate_recipients

            if source.exists():
                return None  # deterministic by seed: the file from an earlier run is the same
            return generate_recipients(source, count=records, schema="kurume-2020", encoding="cp932", seed=seed)

        step(f"宛名ファイルを生成 / generate {records:,} synthetic Kurume recipients (CP932)", generate)
        with gw.unit() as session:
            approval = get_approval(session, APPROVAL)
            profile = get_profile(session, "vpn-sftp")
        screening = step("承認に照らして確認 / screen against the council approval", lambda: screen(
            source, approval, profile, sender_org=approval.city.id, sender_role="staff",
            recipient=CONTRACTOR, at=clock.now(), password_delivery="registered-mail"))
        echo(_manifest_lines(screening))  # type: ignore[arg-type]

        sent = step("暗号化して送付 / minimise, encrypt (age, scrypt 2^18) and store", lambda: send(
            gw, Caller(STAFF, "cli"), SendRequest(source, APPROVAL, "vpn-sftp", CONTRACTOR, "registered-mail")))
        transfer = sent.transfer  # type: ignore[attr-defined]
        clock.advance(timedelta(minutes=5))
        step("パスワード通知書を簡易書留で発送 / record the notice's dispatch by registered mail",
             lambda: notices.dispatch(gw, Caller(STAFF, "cli"), transfer, method="registered-mail"))
        clock.advance(timedelta(days=1, hours=2))
        package = work / f"{transfer}.age"
        plaintext = work / f"{transfer}.csv"

        def fetch() -> None:
            with atomic_output(package) as out:
                download(gw, Caller(HANDLER, "cli"), transfer, out)

        step("受託者の取扱者が受け取り / a designated handler downloads", fetch)
        digest = step("受託者が復号 / decrypt with the passphrase from the notice", lambda: age.decrypt_file(
            package, plaintext, passphrase=sent.passphrase))  # type: ignore[attr-defined]
        counted = step("件数を数える / count the decrypted records", lambda: scan(plaintext))
        receipt = step("受領確認 / confirm receipt with count and SHA-256", lambda: confirm_receipt(
            gw, Caller(HANDLER, "cli"), transfer, record_count=counted.record_count,  # type: ignore[attr-defined]
            sha256=digest.sha256))  # type: ignore[attr-defined]
        for path in (package, plaintext):
            path.unlink()
        clock.advance(timedelta(hours=1))
        bundle = home.exports / f"kurume-2020-{run_id}"
        step("証跡バンドルを書き出し / export the signed evidence bundle",
             lambda: export_bundle(gw, bundle, approval=APPROVAL, actor=Actor(user="demo", role="admin")))

    verified = step("独立監査 / verify with the independent auditor", lambda: subprocess.run(
        [sys.executable, "-m", "audit", "verify", str(bundle)], capture_output=True, text=True))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "records": records,
        "sent": sent.sent.record_count,  # type: ignore[attr-defined]
        "transfer": transfer,
        "receipt_matches": receipt.matches,  # type: ignore[attr-defined]
        "bundle": str(bundle),
        "audit_exit": verified.returncode,  # type: ignore[attr-defined]
        "audit_output": (verified.stdout + verified.stderr).strip(),  # type: ignore[attr-defined]
        "seconds": {s.name: round(s.seconds, 2) for s in steps},
        "total_seconds": round(sum(s.seconds for s in steps), 1),
        "peak_rss_mb": round(rss_mb, 1),
    }


def _prepare(gw: Gateway) -> None:
    """The approval, a staff account and the handler list: registered once, kept on re-runs."""
    with gw.unit() as session:
        _, new = register_approval(session, APPROVAL_FILE, actor="demo", at=gw.clock.now())
        if new:
            gw.ledger.record(session, Event(action="approval.add", channel="cli", actor=Actor(user="demo", role="admin"),
                                            approval=APPROVAL, reason=f"registered {APPROVAL_FILE.name}"))
        if session.scalar(select(m.User).where(m.User.login == STAFF)) is None:
            add_user(session, login=STAFF, name="デモ 職員", org="kurume", role="staff", at=gw.clock.now())
            gw.ledger.record(session, Event(action="user.add", channel="cli", actor=Actor(user="demo", role="admin"),
                                            reason=f"{STAFF} (staff) in kurume"))


def _manifest_lines(s) -> str:  # type: ignore[no-untyped-def]
    m_ = s.manifest
    verdict = "送付できます / allowed" if s.decision.allowed else "送付できません / refused: " + ", ".join(s.decision.kinds)
    return "\n".join([
        f"  ファイル / file: {m_.source_name}（{m_.encoding}, {m_.size_bytes:,} bytes）",
        f"  件数 / records: {m_.record_count:,}",
        f"  SHA-256: {m_.sha256}",
        f"  列 / columns: {', '.join(m_.columns)}",
        f"  判定 / decision: {verdict}",
    ])
