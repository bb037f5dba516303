"""The access log: one linear hash chain, written with the change it records, signed checkpoints."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.clock import FixedClock
from gateway.crypto.canonical_json import canonical
from gateway.home import Home
from gateway.ledger.log import Actor, Event
from gateway.service import Gateway
from gateway.store import models as m
from tests.conftest import run_gateway


def chain(gw: Gateway) -> list[dict]:
    with gw.unit() as s:
        rows = s.execute(select(m.LogEntry.seq, m.LogEntry.hash, m.LogEntry.body).order_by(m.LogEntry.seq)).all()
    prev = "0" * 64
    entries = []
    for i, (seq, stored_hash, body) in enumerate(rows, start=1):
        entry = json.loads(body)
        assert seq == entry["seq"] == i, "seq without gaps"
        assert entry["prev"] == prev, f"entry {seq} links to its predecessor"
        assert body.encode() == canonical(entry), "stored body is canonical JSON"
        prev = hashlib.sha256(b"\x00" + body.encode()).hexdigest()
        assert prev == stored_hash
        entries.append(entry)
    return entries


def test_entries_form_one_chain_with_signed_checkpoints(home):
    """Checkpoints are C2SP signed notes over the RFC 6962 tree of the entries' hashes, checked
    here with the auditor's independent implementation of notes and trees."""
    from audit.checkpoint import parse as parse_checkpoint
    from audit.note import open_note, verifier_key
    from audit.tlog import tree_hash

    clock = FixedClock(datetime(2020, 6, 1, tzinfo=UTC))
    gw = Gateway.open(Home.resolve(str(home)), clock)
    gw.ledger.checkpoint_every = 5
    for i in range(12):
        gw.record(Event(action="test.event", channel="cli", reason=f"event {i}"))
    gw.close()
    entries = chain(gw)
    assert len(entries) == 12 + 2  # init wrote the first two (system.init, home.rehearsal)
    with gw.unit() as s:
        notes = list(s.execute(select(m.Checkpoint.size, m.Checkpoint.body).order_by(m.Checkpoint.size)))
        leaves = [bytes.fromhex(h) for h in s.scalars(select(m.LogEntry.hash).order_by(m.LogEntry.seq))]
    assert [size for size, _ in notes] == [5, 10, 14]  # every 5 entries, and at close
    public = base64.b64decode(gw.keys.public_signing_keys()[gw.ledger.signer.id])
    key = verifier_key(gw.ledger.origin, 0x01, public)
    for size, body in notes:
        note, verified = open_note(body.encode(), [key])
        head = parse_checkpoint(note.text)
        assert (head.origin, head.size, head.extensions) == (gw.ledger.origin, size, ())
        assert head.root == tree_hash(leaves[:size])
        assert len(note.signatures) == 1 and verified[0].key == key
    gw.engine.dispose()


def test_a_rolled_back_change_leaves_no_entry(home):
    gw = Gateway.open(Home.resolve(str(home)))
    with pytest.raises(RuntimeError):
        with gw.unit() as s:
            gw.ledger.record(s, Event(action="test.event", channel="cli"))
            raise RuntimeError("the change failed")
    with gw.unit() as s:
        assert s.scalar(select(func.count()).select_from(m.LogEntry)) == 2  # only init's
        assert s.get(m.LedgerHead, 1).seq == 2
    gw.engine.dispose()


def test_control_characters_cannot_forge_an_entry(home):
    gw = Gateway.open(Home.resolve(str(home)))
    forged = 'x"}\n{"seq": 99, "action": "forged"}\r\n\x1b[2J'
    gw.record(Event(action="test.event", channel="cli", actor=Actor(user=forged), reason=forged))
    gw.engine.dispose()
    bundle = home.parent / "bundle"
    run_gateway("export", "evidence", "-o", str(bundle))
    lines = (bundle / "log" / "entries.jsonl").read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and all(json.loads(line)["seq"] != 99 for line in lines[:-1])
    entry = json.loads(lines[2])
    assert entry["reason"] == forged and entry["actor"]["user"] == forged
    shown = run_gateway("log").stdout
    assert "\x1b" not in shown and len(shown.strip().split("\n")) == 4


WRITER = """
import sys
from gateway.home import Home
from gateway.ledger.log import Event
from gateway.service import Gateway
gw = Gateway.open(Home.resolve(sys.argv[1]))
for i in range(int(sys.argv[2])):
    gw.record(Event(action="test.concurrent", channel="cli", reason=f"{sys.argv[3]}-{i}"))
gw.engine.dispose()
"""


def test_concurrent_writers_in_several_processes_form_one_chain(home):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(home), "40", f"w{n}"], env=os.environ)
             for n in range(4)]
    assert all(p.wait(timeout=180) == 0 for p in procs)
    gw = Gateway.open(Home.resolve(str(home)))
    entries = chain(gw)
    gw.engine.dispose()
    reasons = [e["reason"] for e in entries if e["action"] == "test.concurrent"]
    assert len(reasons) == 160 and len(set(reasons)) == 160


def test_log_filters(home):
    run_gateway("approval", "add", str(Path(__file__).parent / "data" / "approval-basic.toml"))
    run_gateway("approval", "add", str(home / "missing.toml"), check=False)
    refused = json.loads(run_gateway("log", "--outcome", "refused", "--json").stdout)
    assert [e["action"] for e in refused] == ["approval.add"]
    scoped = json.loads(run_gateway("log", "--approval", "test-basic", "--json").stdout)
    assert [e["action"] for e in scoped] == ["approval.add"] and scoped[0]["outcome"] == "ok"
    assert json.loads(run_gateway("log", "--action", "system.", "--json").stdout)[0]["action"] == "system.init"
    assert json.loads(run_gateway("log", "--since", "2999-01-01", "--json").stdout) == []
