"""The database URL an operator writes, read the way they meant it.

Heroku, libpq's documentation and most cloud consoles hand out `postgres://` and `postgresql://`
URLs; SQLAlchemy knows neither `postgres` nor, without psycopg2 (which we do not install), a bare
`postgresql`. Both mean PostgreSQL through psycopg 3, the driver the gateway ships with. The
gateway runs on SQLite and PostgreSQL only (its migrations and crypto-erase are written and tested
for those two): anything else is refused with what to write instead, never a traceback.
"""
from __future__ import annotations

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from gateway.errors import Invalid

POSTGRES_DRIVER = "postgresql+psycopg"
_POSTGRES_ALIASES = {"postgres", "postgresql", "postgres+psycopg", "pgsql"}
_SUPPORTED = {POSTGRES_DRIVER, "sqlite", "sqlite+pysqlite"}
_EXAMPLES = ("postgresql+psycopg://USER@HOST:5432/DATABASE?sslmode=verify-full, "
             "sqlite:////var/lib/gateway/gateway.db")


def normalise(url: str) -> str:
    """`url` with a PostgreSQL alias spelt as our driver; "" (SQLite in the home) unchanged."""
    if not url:
        return url
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise _refusal(url, "形式が正しくありません", "is not a database URL") from None
    if parsed.drivername in _POSTGRES_ALIASES:
        parsed = parsed.set(drivername=POSTGRES_DRIVER)
    if parsed.drivername not in _SUPPORTED:
        raise _refusal(url, f"「{parsed.drivername}」を指定しています。使えるのは PostgreSQL（psycopg）と SQLite だけです",
                       f"names '{parsed.drivername}'; the gateway runs on PostgreSQL (psycopg) and SQLite only")
    return parsed.render_as_string(hide_password=False)


def _refusal(url: str, ja: str, en: str) -> Invalid:
    shown = url.split("://", 1)[0] + "://…" if "://" in url else "…"  # never the password
    return Invalid(f"データベースの URL（{shown}）は{ja}。次のように書いてください: {_EXAMPLES}",
                   f"the database URL ({shown}) {en}; write it as one of: {_EXAMPLES}")
