"""A rehearsal's database: its own, empty, and never the one a shell happens to name.

`gateway simulate` with `$GATEWAY_DB_URL` set once wrote the rehearsal into that database (a
production one, in the case found), after which the installation's own export failed `audit
verify`; a rehearsal into a used database also reported findings that were not there. So a
rehearsal uses SQLite inside its output directory, or a database named explicitly for it
(`--rehearsal-db URL`) that holds no tables at all; and its home is sealed (settings `[db]
sealed`), so nothing in the run reads `$GATEWAY_DB_URL`.
"""
from __future__ import annotations

from sqlalchemy import create_engine, inspect
from sqlalchemy.exc import SQLAlchemyError

from gateway.errors import Conflict, Invalid
from gateway.home import Home
from gateway.settings import without_password
from gateway.store.failures import classify


def rehearsal_database(home: Home, url: str | None) -> str:
    """The URL the rehearsal home at `home` will use: SQLite in it, or `url` if that database is empty."""
    if url is None:
        return home.sqlite_url
    try:
        engine = create_engine(url)
    except (SQLAlchemyError, ValueError) as err:
        raise Invalid(f"--rehearsal-db の URL を読めません（{type(err).__name__}）。",
                      f"cannot read the --rehearsal-db URL ({type(err).__name__}).") from None
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
    except SQLAlchemyError as err:
        answer = classify(err)
        if answer is None:
            raise
        raise answer from err
    finally:
        engine.dispose()
    if tables:
        raise Conflict(
            f"リハーサル用のデータベース {without_password(url)} は空ではありません（表 {len(tables)} 個）。"
            "リハーサルは空のデータベースにだけ書き込みます。新しいデータベースを作って指定してください。",
            f"the rehearsal database {without_password(url)} is not empty ({len(tables)} tables); a rehearsal "
            "writes only into an empty database. Create a new one and name it.")
    return url
