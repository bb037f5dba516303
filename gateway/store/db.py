"""Opening the database and bringing its schema to the newest migration.

SQLite under the home by default; any SQLAlchemy URL (PostgreSQL: `postgresql+psycopg://...`)
through `$GATEWAY_DB_URL`.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gateway.errors import GatewayError


def connect(url: str) -> Engine:
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


def _sqlite_begin_immediate(conn: Any) -> None:
    # Take the write lock when the transaction starts, not at its first write: a transaction that
    # read the ledger head and then found another writer ahead of it would otherwise fail at once
    # (SQLITE_BUSY_SNAPSHOT) instead of waiting its turn.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it otherwise).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # Foreign keys are off by default in SQLite; WAL lets readers work beside the one writer;
    # the busy timeout makes concurrent writers wait instead of failing at once.
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=FULL")
    # Deleted rows (wrapped data keys after a crypto-erase) are overwritten, not left in free pages.
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def _alembic_config():  # type: ignore[no-untyped-def]
    # Alembic is imported only to migrate: every other command would pay ~0.1 s to load it.
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "gateway.store:migrations")
    return cfg


_VERSIONS = Path(__file__).parent / "migrations" / "versions"
_REVISION = re.compile(r'^revision\s*=\s*"([^"]+)"', re.M)
_DOWN = re.compile(r'^down_revision\s*=\s*(?:"([^"]+)"|None)', re.M)


def head_revisions() -> frozenset[str]:
    """Channels add their tables on branches of their own; the schema is current when every
    branch's head is applied. Read from the migration files without loading Alembic (a test
    checks this agrees with Alembic's own answer)."""
    revisions, parents = set(), set()
    for path in _VERSIONS.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        if (rev := _REVISION.search(source)) is not None:
            revisions.add(rev.group(1))
            down = _DOWN.search(source)
            if down is not None and down.group(1):
                parents.add(down.group(1))
    return frozenset(revisions - parents)


def head_revision() -> str:
    return "+".join(sorted(head_revisions()))


def current_revisions(engine: Engine) -> frozenset[str]:
    with engine.connect() as conn:
        return frozenset(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def migrate(engine: Engine) -> None:
    """Upgrade to the newest schema; a no-op when it is already there (init is idempotent)."""
    from alembic import command

    cfg = _alembic_config()
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")
    except SQLAlchemyError as err:
        raise GatewayError(
            f"データベースを準備できません（{type(err).__name__}）。GATEWAY_DB_URL と権限を確認してください。",
            f"cannot prepare the database ({type(err).__name__}); check GATEWAY_DB_URL and permissions.",
        ) from err


def require_current(engine: Engine) -> None:
    try:
        current = current_revisions(engine)
    except SQLAlchemyError:
        current = frozenset()
    if current != head_revisions():
        raise GatewayError(
            "データベースが初期化されていないか古い版です。`gateway init` を実行してください。",
            "the database is not initialised or out of date; run `gateway init`.",
        )


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: committed as a whole, or not at all."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session:
        with session.begin():
            yield session
