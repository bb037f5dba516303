"""Opening the database and bringing its schema to the newest migration.

SQLite under the home by default; any SQLAlchemy URL (PostgreSQL: `postgresql+psycopg://...`)
through `$GATEWAY_DB_URL`.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gateway.errors import Unavailable
from gateway.store.failures import DatabaseBusy, NotInitialised, SchemaOutOfDate, classify

# How long a SQLite writer waits for the write lock before giving up (SQLITE_BUSY): the settings'
# `[db] busy_timeout_ms`. The portal answers 503 with Retry-After when it is exceeded.
DEFAULT_BUSY_TIMEOUT_MS = 10_000


def connect(url: str, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Engine:
    # A server database may go away and come back (a restart, a failover): each connection is
    # checked as it is taken from the pool, so the first request after the return works.
    server = not url.startswith("sqlite")
    engine = create_engine(url, future=True, pool_pre_ping=server)
    if engine.dialect.name == "sqlite":
        _owner_only(engine.url.database)
        timeout = busy_timeout_ms  # every connection of this engine waits the same
        event.listen(engine, "connect", lambda dbapi_conn, rec: _sqlite_pragmas(dbapi_conn, rec, timeout))
        event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


SQLITE_FILES = ("", "-wal", "-shm", "-journal")


def sqlite_file(engine: Engine) -> str | None:
    """The SQLite database file of `engine`, or None for a server database."""
    return engine.url.database if engine.dialect.name == "sqlite" else None


def _owner_only(database: str | None) -> None:
    """Create the SQLite file 0600 before SQLite opens it, and tighten one made before this rule.

    SQLite gives its -wal, -shm and -journal files the mode of the database file, so creating that
    one owner-only is enough, without touching the process-wide umask other threads rely on."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    # Only a file that does not exist yet is opened here (O_EXCL). Opening and closing an existing
    # database file would drop every POSIX lock this process holds on it, SQLite's included: another
    # process could then checkpoint and reset the WAL under this process's open connections, and
    # their committed transactions would be lost ("How To Corrupt An SQLite Database File", 2.2).
    if path.parent.is_dir() and not path.exists():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600))
        except FileExistsError:
            pass  # another connection made it meanwhile; the mode is checked below
    for suffix in SQLITE_FILES:
        candidate = Path(f"{database}{suffix}")
        try:
            if candidate.stat().st_mode & 0o077:
                os.chmod(candidate, 0o600)
        except FileNotFoundError:
            pass


READ_ONLY = "gateway_read_only"  # execution option of the connection a read-only unit runs on


def _sqlite_begin_immediate(conn: Any) -> None:
    # Take the write lock when the transaction starts, not at its first write: a transaction that
    # read the ledger head and then found another writer ahead of it would otherwise fail at once
    # (SQLITE_BUSY_SNAPSHOT) instead of waiting its turn. A read-only unit takes no write lock: in
    # WAL mode it reads a consistent snapshot beside the one writer, so the portal's per-request
    # lookups never queue behind (or hold up) a send.
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN DEFERRED")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any, busy_timeout: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it otherwise).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # Foreign keys are off by default in SQLite; WAL lets readers work beside the one writer;
    # the busy timeout makes concurrent writers wait instead of failing at once.
    # The busy timeout first: switching to WAL needs a lock too, and until it is set the driver's
    # own default (5 s) applies, whatever [db] busy_timeout_ms says.
    cur.execute(f"PRAGMA busy_timeout={int(busy_timeout)}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    # Deleted rows (wrapped data keys after a crypto-erase) are overwritten, not left in free pages.
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def _alembic_config():
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


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only: on SQLite its transaction begins DEFERRED, so it neither
    takes nor waits for the write lock (every other transaction begins IMMEDIATE)."""
    with engine.connect() as conn:
        yield conn.execution_options(**{READ_ONLY: True})


def current_revisions(engine: Engine) -> frozenset[str]:
    with reading(engine) as conn:
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
        if (answer := classify(err, database=sqlite_file(engine))) is not None:
            raise answer from err
        raise Unavailable(
            f"データベースを準備できません（{type(err).__name__}）。GATEWAY_DB_URL と権限を確認してください。",
            f"cannot prepare the database ({type(err).__name__}); check GATEWAY_DB_URL and permissions.",
        ) from err


def require_current(engine: Engine) -> None:
    """Refuse a database this program cannot work on, saying which of the distinct reasons it is:
    busy, unreachable, damaged, read-only, not initialised, or an older schema."""
    try:
        current = current_revisions(engine)
    except SQLAlchemyError as err:
        if _no_version_table(engine, err):
            raise NotInitialised(engine.url.render_as_string(hide_password=True)) from None
        answer = classify(err, database=sqlite_file(engine))
        if answer is None:
            raise
        raise answer from err
    if current != head_revisions():
        if not current:
            raise NotInitialised(engine.url.render_as_string(hide_password=True))
        raise SchemaOutOfDate("+".join(sorted(current)), head_revision())


def _no_version_table(engine: Engine, err: SQLAlchemyError) -> bool:
    """Whether the database answered, but holds no schema: a fresh or emptied database, not a
    broken one (which must never be told to run `gateway init`)."""
    if classify(err) is not None:
        return False
    try:
        with reading(engine) as conn:
            return "alembic_version" not in inspect(conn).get_table_names()
    except SQLAlchemyError:
        return False


def is_busy(err: BaseException) -> bool:
    return isinstance(classify(err), DatabaseBusy)


def _refuse_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    raise RuntimeError("a read-only unit may not write; use Gateway.unit()")


@contextmanager
def session_scope(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """One unit of work: committed as a whole, or not at all. A busy database (another writer held
    the lock past the busy timeout) is raised as DatabaseBusy, after the rollback; a full disk, a
    read-only file system, a server gone away or a damaged file each as its own Unavailable.

    `read_only`: a snapshot to read from, without the write lock; any attempt to write raises."""
    factory = sessionmaker(engine, expire_on_commit=False)
    try:
        with factory() as session:
            if read_only:
                event.listen(session, "before_flush", _refuse_flush)
                session.connection(execution_options={READ_ONLY: True})
                # Closing (not rolling back) ends the transaction and keeps the objects read
                # usable after the block, as a committed unit's are (expire_on_commit=False).
                yield session
                return
            with session.begin():
                yield session
    except SQLAlchemyError as err:
        # Busy, full, read-only, unreachable, damaged: each its own answer (store/failures.py);
        # anything else is a bug and surfaces as one.
        answer = classify(err, database=sqlite_file(engine))
        if answer is not None:
            raise answer from err
        raise
