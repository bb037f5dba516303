"""The database on SQLite and on a real PostgreSQL server: init, migrations, approvals."""
from __future__ import annotations

import json
import os
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select

from gateway.store import db
from gateway.store import models as m
from gateway.store.schema import metadata
from tests.conftest import APPROVALS, run_gateway

DATA = Path(__file__).parent / "data"


def test_init_is_idempotent(home):
    again = run_gateway("init", "--json")
    result = json.loads(again.stdout)
    assert result["created"] == [] and result["profiles_added"] == []
    assert oct(os.stat(home).st_mode & 0o777) == "0o700"


def test_migrations_match_the_models(home):
    engine = db.connect(os.environ["GATEWAY_DB_URL"])
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def test_approval_add_list_show(home):
    for f in sorted(APPROVALS.glob("*.toml")):
        out = run_gateway("approval", "add", str(f))
        assert "registered" in out.stdout
    again = run_gateway("approval", "add", str(APPROVALS / "kurume-2020-teigaku.toml"))
    assert "unchanged" in again.stdout
    listed = json.loads(run_gateway("approval", "list", "--json").stdout)
    assert {r["id"] for r in listed} == {f.stem for f in APPROVALS.glob("*.toml")}
    shown = json.loads(run_gateway("approval", "show", "kurume-2020-teigaku", "--json").stdout)
    assert shown["max_records"] >= 305_115 and "bank_name" in shown["fields"]
    text = run_gateway("approval", "show", "shinjuku-2020-teigaku").stdout
    assert "DV" in text or "配偶者" in text or "除外" in text


def test_handlers_and_organisations_are_registered(home):
    run_gateway("approval", "add", str(DATA / "approval-basic.toml"))
    engine = db.connect(os.environ["GATEWAY_DB_URL"])
    with db.session_scope(engine) as s:
        # The gateway's own administration (its first operator's account) is registered by init.
        orgs = {o.id: o.kind for o in s.scalars(select(m.Organisation)) if o.kind != "gateway"}
        assert orgs == {"testcity": "city", "printer": "contractor", "enclosing": "subcontractor"}
        designations = s.execute(
            select(m.User.login, m.HandlerDesignation.role).join(m.HandlerDesignation)
        ).all()
        assert set(designations) == {("p.responsible", "responsible"), ("p.handler", "handler"),
                                     ("e.responsible", "responsible")}
        # Handlers get accounts without credentials: those travel by hand or registered mail.
        assert all(u.password_hash is None and u.must_change_password for u in s.scalars(select(m.User)))
    engine.dispose()


def test_bad_approval_writes_nothing(home, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text((DATA / "approval-basic.toml").read_text(encoding="utf-8").replace("end = 2020-08-31", "end = 2020-01-01"),
                   encoding="utf-8")
    proc = run_gateway("approval", "add", str(bad), check=False)
    assert proc.returncode == 1
    ja, en = proc.stderr.strip().split("\n", 1)
    assert "期間" in ja and "period" in en
    engine = db.connect(os.environ["GATEWAY_DB_URL"])
    with db.session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(m.Approval)) == 0
        # Only the gateway's own administration, which init registered, and none of the approval's.
        assert s.scalar(select(func.count()).select_from(m.Organisation).where(m.Organisation.kind != "gateway")) == 0
    engine.dispose()


def test_changed_approval_under_the_same_id_is_refused(home, tmp_path):
    run_gateway("approval", "add", str(DATA / "approval-basic.toml"))
    changed = tmp_path / "changed.toml"
    changed.write_text((DATA / "approval-basic.toml").read_text(encoding="utf-8").replace("max_records = 100", "max_records = 200"),
                       encoding="utf-8")
    proc = run_gateway("approval", "add", str(changed), check=False)
    assert proc.returncode == 1 and "new id" in proc.stderr


def test_uninitialised_home_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("GATEWAY_DB_URL", raising=False)
    proc = run_gateway("--home", str(tmp_path / "nowhere"), "approval", "list", check=False)
    assert proc.returncode == 1 and "gateway init" in proc.stderr


def test_unknown_approval_is_refused(home):
    proc = run_gateway("approval", "show", "no-such-approval", check=False)
    assert proc.returncode == 1 and "approval list" in proc.stderr


def test_schema_heads_without_alembic_agree_with_alembic():
    from alembic.script import ScriptDirectory

    assert db.head_revisions() == frozenset(ScriptDirectory.from_config(db._alembic_config()).get_heads())
