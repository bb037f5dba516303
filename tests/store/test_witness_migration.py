"""An installation from before issue 17 (JSON checkpoints, bundle format 1) upgrades in place: its
tree's frontier is computed from its entries, and the first C2SP checkpoint covers everything."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from audit.tlog import CompactTree
from gateway.store import db
from tests.conftest import city_policy, run_audit, run_gateway

BEFORE = "0010_witnessed_checkpoints-1"


def to_format_1(database: str) -> sa.Engine:
    """The schema as it was before the C2SP checkpoints (the migration's own downgrade)."""
    from alembic import command

    engine = db.connect(database)
    cfg = db._alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, BEFORE)
    assert "0010_witnessed_checkpoints" not in db.current_revisions(engine)
    return engine


@pytest.fixture
def old_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, sa.Engine]:
    home = tmp_path / "home"
    monkeypatch.setenv("GATEWAY_HOME", str(home))
    monkeypatch.delenv("GATEWAY_DB_URL", raising=False)
    run_gateway("init")
    run_gateway("approval", "add", str(Path(__file__).parents[1] / "data" / "approval-basic.toml"))
    run_gateway("approval", "add", str(tmp_path / "missing.toml"), check=False)
    engine = to_format_1(f"sqlite:///{home / 'gateway.db'}")
    with engine.begin() as conn:  # what the format-1 ledger left: a signed JSON checkpoint at its head
        seq = conn.execute(sa.text("SELECT seq FROM ledger_head")).scalar_one()
        conn.execute(sa.text("INSERT INTO checkpoints (size, body, at) VALUES (:s, :b, :a)"),
                     {"s": seq, "b": json.dumps({"type": "checkpoint", "size": seq}), "a": datetime.now(UTC)})
        conn.execute(sa.text("UPDATE ledger_head SET checkpoint_size = :s, checkpoint_hash = :h"),
                     {"s": seq, "h": "ab" * 32})
    return home, engine


def test_a_format_1_installation_upgrades_and_its_next_bundle_verifies(old_home, tmp_path) -> None:
    home, engine = old_home
    run_gateway("init")  # brings the schema to the newest, as after any upgrade
    with engine.connect() as conn:
        hashes = [bytes.fromhex(h) for h in conn.execute(sa.text("SELECT hash FROM log_entries ORDER BY seq")).scalars()]
        seq, tree = conn.execute(sa.text("SELECT seq, tree FROM ledger_head")).one()
        bodies = list(conn.execute(sa.text("SELECT body FROM checkpoints")).scalars())
    engine.dispose()
    expected = CompactTree()
    for h in hashes[:seq]:
        expected.append(h)
    assert tree == "".join(f.hex() for f in expected.frontier)
    assert not any(b.startswith("{") for b in bodies)  # the JSON checkpoint is gone
    bundle = tmp_path / "bundle"
    run_gateway("export", "evidence", "-o", str(bundle))
    assert not (bundle / "log" / "checkpoints.jsonl").exists()
    proc = run_audit("verify", str(bundle), "--json", trust=city_policy(home), check=False)
    assert proc.returncode == 0, proc.stdout
    assert json.loads(proc.stdout)["format"] == 2


def test_a_log_pruned_under_format_1_is_left_as_it_was(old_home) -> None:
    home, engine = old_home
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO log_prunings (id, first_seq, last_seq, log_seq, body, at) "
                             "VALUES ('log-pruning-x', 1, 1, 2, '{}', :a)"), {"a": datetime.now(UTC)})
    before = db.current_revisions(engine)
    proc = run_gateway("init", check=False)
    assert proc.returncode == 1 and "format 1" in proc.stderr and "Nothing was changed" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert db.current_revisions(engine) == before
    engine.dispose()
