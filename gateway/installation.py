"""Creating and opening one gateway installation (its home, database and shipped profiles)."""
from __future__ import annotations

import os
import uuid
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, make_url
from sqlalchemy.orm import Session

from gateway import kek_rotation, settings
from gateway.clock import FixedClock
from gateway.crypto import servercert
from gateway.crypto.kek import config as kek_config
from gateway.crypto.keystore import KeyStore
from gateway.data import profiles_dir
from gateway.errors import Unavailable
from gateway.home import Home
from gateway.ledger.log import Event, Ledger
from gateway.store import db
from gateway.store import models as m
from gateway.store.registry import register_profiles


def init(home: Home, *, at: datetime, kek: kek_config.KekConfig | None = None,
         hostnames: tuple[str, ...] = ()) -> dict[str, object]:
    """Create what is missing and change nothing that exists: safe to run again at any time.

    A database named by $GATEWAY_DB_URL is recorded in the home's settings (without its password),
    so that every later command opens the same database whether or not it is told again.
    `kek`: where the key-encryption key lives, recorded as `[kek]` in gateway.toml (default: the
    file backend, or what the file already says). Moving an installation to another backend
    re-wraps its live data keys under a new generation there and destroys the old one.
    `hostnames`: names the portal is reached by, put in its certificate besides localhost."""
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
    keys = KeyStore(home.keys).ensure(now=at, hostnames=hostnames)
    keyring = KeyStore(home.keys).kek()
    if env_url := os.environ.get(settings.env_name("db", "url")):
        from gateway import dburl

        settings.record_db_url(home.root, dburl.normalise(env_url))  # a URL we cannot use is never recorded
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
            if created or keys or profiles:
                ledger = Ledger(KeyStore(home.keys).signing_key(), installation_id(session), FixedClock(at))
                ledger.record(session, Event(
                    action="system.init", channel="cli",
                    reason=f"created: {', '.join(keys + profiles) or 'directories'}",
                ))
            moving = kek_rotation.backend_changed(session, keyring)
            ledger = Ledger(KeyStore(home.keys).signing_key(), installation_id(session), FixedClock(at))
        if moving:
            kek_rotation.rotate(engine, ledger, keyring, now=at, force=True)
            keys.append(f"kek-{keyring.default_backend}")
    finally:
        engine.dispose()
    return {"home": str(home.root), "created": created, "keys_created": keys, "profiles_added": profiles,
            "schema": db.head_revision(), "server_names": list(servercert.describe(home.keys).names)}


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
