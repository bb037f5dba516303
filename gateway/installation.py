"""Creating and opening one gateway installation (its home, database and shipped profiles)."""
from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, make_url
from sqlalchemy.orm import Session

from gateway import kek_rotation, settings
from gateway.clock import FixedClock
from gateway.core.profiles import profiles_dir
from gateway.crypto.kek import config as kek_config
from gateway.crypto.keystore import KeyStore
from gateway.errors import Conflict, Invalid, Unavailable
from gateway.home import Home
from gateway.ledger.log import Event, Ledger
from gateway.ledger.note import valid_name
from gateway.store import db
from gateway.store import models as m
from gateway.store.registry import register_profiles


def init(home: Home, *, at: datetime, kek: kek_config.KekConfig | None = None,
         origin: str | None = None) -> dict[str, object]:
    """Create what is missing and change nothing that exists: safe to run again at any time.

    A database named by $GATEWAY_DB_URL is recorded in the home's settings (without its password),
    so that every later command opens the same database whether or not it is told again.
    `kek`: where the key-encryption key lives, recorded as `[kek]` in gateway.toml (default: the
    file backend, or what the file already says). Moving an installation to another backend
    re-wraps its live data keys under a new generation there and destroys the old one.
    `origin`: the log's C2SP origin (the first line of every checkpoint, the name witnesses and
    verifiers know the log by), fixed at the first init; default `<host name>/gateway-<id>`."""
    created = []
    for directory in (home.root, home.blobs, home.keys, home.exports):
        if not directory.exists():
            created.append(str(directory))
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as err:
            raise Unavailable(
                f"{directory} を作成できません（{err.strerror}）。権限と --home を確認してください。",
                f"cannot create {directory} ({err.strerror}); check permissions and --home.",
            ) from None
        # Resident data and keys live here: no one but the service account may list it.
        os.chmod(directory, 0o700)
    if kek is not None:
        kek_config.record(home.root, kek)
    keys = KeyStore(home.keys).ensure(now=at)
    keyring = KeyStore(home.keys).kek()
    if env_url := os.environ.get(settings.env_name("db", "url")):
        settings.record_db_url(home.root, env_url)
    config = settings.load(home.root)
    engine = db.connect(database_url(home, config), busy_timeout_ms=config.db.busy_timeout_ms)
    try:
        db.migrate(engine)
        with db.session_scope(engine) as session:
            if kek_rotation.ensure_current(session, keyring, at=at) is not None:
                keys.append("kek")
            profiles = register_profiles(session, profiles_dir())
            if session.get(m.Setting, "created_at") is None:
                session.add(m.Setting(key="created_at", value=at.isoformat()))
                session.add(m.Setting(key="installation_id", value=str(uuid.uuid4())))
                session.flush()
            fixed = _fix_origin(session, origin)
            if created or keys or profiles or fixed:
                what = keys + profiles + ([f"log origin {fixed}"] if fixed else [])
                ledger = Ledger(KeyStore(home.keys).signing_key(), installation_id(session), FixedClock(at),
                                log_origin(session))
                ledger.record(session, Event(
                    action="system.init", channel="cli",
                    reason=f"created: {', '.join(what) or 'directories'}",
                ))
            origin_now = log_origin(session)
            moving = kek_rotation.backend_changed(session, keyring)
            ledger = Ledger(KeyStore(home.keys).signing_key(), installation_id(session), FixedClock(at),
                            log_origin(session))
        if moving:
            kek_rotation.rotate(engine, ledger, keyring, now=at, force=True)
            keys.append(f"kek-{keyring.default_backend}")
    finally:
        engine.dispose()
    return {"home": str(home.root), "created": created, "keys_created": keys, "profiles_added": profiles,
            "schema": db.head_revision(), "origin": origin_now}


def database_url(home: Home, config: settings.Settings) -> str:
    return config.db.url or home.sqlite_url


def open_engine(home: Home, config: settings.Settings | None = None) -> Engine:
    """The database of an initialised installation; refuses one `gateway init` has not prepared."""
    config = config or settings.load(home.root)
    url = make_url(database_url(home, config))
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").exists():
        raise Unavailable(
            f"{home.root} は初期化されていません。先に `gateway init` を実行してください。",
            f"{home.root} is not initialised; run `gateway init` first.",
        )
    engine = db.connect(url.render_as_string(hide_password=False), busy_timeout_ms=config.db.busy_timeout_ms)
    db.require_current(engine)
    return engine


def installation_id(session: Session) -> str:
    row = session.get(m.Setting, "installation_id")
    if row is None:
        raise Unavailable(
            "インストール ID がありません。`gateway init` を実行してください。",
            "the installation has no id; run `gateway init`.",
        )
    return row.value


ORIGIN_SETTING = "log_origin"


def log_origin(session: Session) -> str:
    row = session.get(m.Setting, ORIGIN_SETTING)
    if row is None:
        raise Unavailable(
            "ログの origin が設定されていません。`gateway init` を実行してください。",
            "the log has no origin yet; run `gateway init`.",
        )
    return row.value


def _fix_origin(session: Session, wanted: str | None) -> str | None:
    """Set the origin once; returns it when this call set it. It never changes afterwards: the
    witnesses and every verifier's trust policy know the log by it."""
    row = session.get(m.Setting, ORIGIN_SETTING)
    if row is not None:
        if wanted is not None and wanted != row.value:
            raise Conflict(
                f"ログの origin は {row.value} に決まっており、変更できません"
                "（ウィットネスと検証者はこの名前でログを識別しています）。",
                f"the log's origin is {row.value} and cannot change: witnesses and verifiers know the log by it.",
            )
        return None
    origin = wanted or f"{socket.gethostname() or 'localhost'}/gateway-{installation_id(session)[:8]}"
    if not valid_name(origin) or len(origin) > 200:
        raise Invalid(
            f"origin {origin[:80]!r} は使えません。空白・「+」・制御文字を含まない 200 文字以内の名前にしてください"
            "（例: kurume.example.jp/gateway）。",
            f"the origin {origin[:80]!r} cannot be used: a name of at most 200 characters without spaces,"
            " '+' or control characters (e.g. kurume.example.jp/gateway).",
        )
    session.add(m.Setting(key=ORIGIN_SETTING, value=origin))
    return origin
