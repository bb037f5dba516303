"""Creating and opening one gateway installation (its home, database and shipped profiles)."""
from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, inspect, make_url, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gateway import kek_rotation, settings
from gateway.clock import Clock, FixedClock, for_home, real_now
from gateway.crypto import servercert
from gateway.crypto.kek import config as kek_config
from gateway.crypto.keystore import KeyStore
from gateway.data import profiles_dir
from gateway.errors import Conflict, Invalid, Unavailable
from gateway.home import Home
from gateway.ledger import head_record
from gateway.ledger.log import ClockBehind, Event, Ledger
from gateway.ledger.note import valid_name
from gateway.store import db, operators
from gateway.store import models as m
from gateway.store.failures import NotInitialised, classify
from gateway.store.registry import register_profiles


def init(home: Home, *, rehearsal: bool = False, clock: Clock | None = None, kek: kek_config.KekConfig | None = None,
         reinitialise: bool = False, previous_head: head_record.KnownHead | None = None,
         sealed_db_url: str | None = None, origin: str | None = None, operator: str | None = None,
         hostnames: tuple[str, ...] = ()) -> dict[str, object]:
    """Create what is missing and change nothing that exists: safe to run again at any time.

    A database named by $GATEWAY_DB_URL is recorded in the home's settings (without its password),
    so that every later command opens the same database whether or not it is told again.
    `kek`: where the key-encryption key lives, recorded as `[kek]` in gateway.toml (default: the
    file backend, or what the file already says). Moving an installation to another backend
    re-wraps its live data keys under a new generation there and destroys the old one.

    `rehearsal`: a home for tests and rehearsals, the only kind that accepts a fake clock; it says
    so in its log. A home is one or the other for good.

    A home whose database holds no log but whose keys, blobs or head record show that one existed
    (an emptied or replaced database) is refused: starting a new chain there would pass for the
    whole history. `reinitialise` starts it anyway, with a signed entry naming the head it cuts off
    (`previous_head`, else the home's record of it).

    `sealed_db_url`: the one database of a rehearsal home made by the simulator; $GATEWAY_DB_URL
    is then neither recorded nor ever read for this home (settings `[db] sealed`).

    `origin`: the log's C2SP origin (the first line of every checkpoint, the name witnesses and
    verifiers know the log by), fixed at the first init; default `<host name>/gateway-<id>`.

    `operator`: the operating-system user who runs it, made the administrator's operator if the
    installation has no operator yet (gateway.operations.operators).

    `hostnames`: names the portal is reached by, put in its certificate besides localhost."""
    traces = earlier_log_traces(home)
    created = []
    for directory in (home.root, home.blobs, home.keys, home.exports):
        if not directory.exists():
            created.append(str(directory))
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as err:
            raise classify(err) or Unavailable(
                f"{directory} を作成できません（{err.strerror}）。権限と --home を確認してください。",
                f"cannot create {directory} ({err.strerror}); check permissions and --home.",
            ) from None
        # Resident data and keys live here: no one but the service account may list it.
        os.chmod(directory, 0o700)
    if kek is not None:
        kek_config.record(home.root, kek)
    if sealed_db_url is not None:
        settings.record_db_url(home.root, sealed_db_url, sealed=True)
    elif env_url := os.environ.get(settings.env_name("db", "url")):
        from gateway import dburl

        settings.record_db_url(home.root, dburl.normalise(env_url))  # a URL we cannot use is never recorded
    config = settings.load(home.root)
    engine = db.connect(database_url(home, config), busy_timeout_ms=config.db.busy_timeout_ms)
    try:
        has_log, mode = _log_state(engine)
        _check_continuity(home, has_log, traces, reinitialise)
        if reinitialise and (recorded := head_record.read(home.root)) is not None and recorded.mode:
            mode = recorded.mode  # a lost log was what its home record says: production stays production
            if rehearsal and mode == "production":
                raise Conflict("このホームの以前のログは本番用でした。リハーサル用として再初期化することはできません。",
                               "this home's earlier log was a production one; it cannot be re-initialised as a "
                               "rehearsal home.")
        if has_log and mode != "rehearsal" and rehearsal:
            raise Conflict(
                "このホームは本番用として記録を始めています。リハーサル用に変えることはできません。"
                "リハーサルには新しいホーム（--home）で `gateway init --rehearsal` を実行してください。",
                "this home has been keeping a production log; it cannot become a rehearsal home. "
                "Run `gateway init --rehearsal` with a new --home for rehearsals.")
        rehearsal_home = mode == "rehearsal" if has_log or mode else rehearsal
        at = for_home(rehearsal=rehearsal_home, given=clock).now()
        if reinitialise:
            _refuse_restart_before(head_record.read(home.root), at)
        if not traces:
            # Until the first entry commits, keys without a log are an interrupted init, not a reset.
            (home.root / PENDING).touch(mode=0o600)
        # The CA and TLS certificates are checked by real clients against the real time, whatever
        # time a rehearsal plays: they are made on the real clock (they are not evidence).
        keys = KeyStore(home.keys).ensure(now=real_now(), hostnames=hostnames)
        keyring = KeyStore(home.keys).kek()
        db.migrate(engine)
        with db.session_scope(engine) as session:
            if kek_rotation.ensure_current(session, keyring, at=at) is not None:
                keys.append("kek")
            profiles = register_profiles(session, profiles_dir())
            new_home = session.get(m.Setting, "created_at") is None
            known = None
            if new_home:
                session.add(m.Setting(key="created_at", value=at.isoformat()))
                known = previous_head or (head_record.read(home.root) if reinitialise else None)
                installation = (known.installation if known and known.installation else None) or str(uuid.uuid4())
                session.add(m.Setting(key="installation_id", value=installation))
                session.add(m.Setting(key=MODE, value="rehearsal" if rehearsal_home else "production"))
                session.flush()
            fixed = _fix_origin(session, origin)
            first = operator is not None and operators.bootstrap(session, operator, at)
            operated = f"OS user {operator} operates {operators.ADMIN_LOGIN} (admin)" if first else ""
            ledger = Ledger(KeyStore(home.keys).signing_key(), installation_id(session), FixedClock(at),
                            log_origin(session))
            made = created or keys or profiles or new_home or fixed
            if made or first:
                # One entry for what init did, the first operator included (an installation made
                # before operators existed gets its first operator in an entry of its own).
                what = keys + profiles + ([f"log origin {fixed}"] if fixed else [])
                ledger.record(session, Event(
                    action="system.init" if made else "operator.add", channel="cli",
                    reason="; ".join(x for x in (f"created: {', '.join(what) or 'directories'}" if made
                                                 else "", operated) if x),
                ))
            if new_home and rehearsal_home:
                ledger.record(session, Event(action=REHEARSAL_ACTION, channel="cli", reason=REHEARSAL_REASON))
            if new_home and reinitialise:
                _record_reinitialisation(session, ledger, traces, known or head_record.KnownHead(
                    None, 0, "", None, "unknown"))
            origin_now = log_origin(session)
            moving = kek_rotation.backend_changed(session, keyring)
        if moving:
            kek_rotation.rotate(engine, ledger, keyring, now=at, force=True)
            keys.append(f"kek-{keyring.default_backend}")
        remember_head(engine, home)
        (home.root / PENDING).unlink(missing_ok=True)
    finally:
        engine.dispose()
    return {"home": str(home.root), "created": created, "keys_created": keys, "profiles_added": profiles,
            "schema": db.head_revision(), "origin": origin_now, "rehearsal": rehearsal_home, "reinitialised": bool(reinitialise),
            "server_names": list(servercert.describe(home.keys).names)}


MODE = "home_mode"  # settings row: "production" or "rehearsal", written once by `gateway init`
REHEARSAL_ACTION = "home.rehearsal"
REHEARSAL_REASON = ("rehearsal home: its times come from GATEWAY_FAKE_NOW, --now or the simulator and are not "
                    "real; nothing in this log is evidence of a real hand-over")
REINITIALISE_ACTION = "home.reinitialise"
PENDING = ".init-pending"  # exists while a first `gateway init` has made keys but no log yet


def earlier_log_traces(home: Home) -> dict[str, object]:
    """What a home keeps of a log its database no longer holds: the evidence key, blob files and
    the head record. Empty for a new home."""
    traces: dict[str, object] = {}
    if (home.keys / "signing" / "current").exists():
        traces["signing_key"] = True
    blobs = sum(1 for p in home.blobs.glob("??/*") if p.is_file()) if home.blobs.is_dir() else 0
    if blobs:
        traces["blob_files"] = blobs
    if (home.root / head_record.FILE).exists():
        traces["head_record"] = True
    if set(traces) == {"signing_key"} and (home.root / PENDING).exists():
        return {}  # a first init killed after making its keys: nothing was ever logged
    return traces


def _log_state(engine: Engine) -> tuple[bool, str | None]:
    """Whether the database holds a log (a head past entry 0), and the home's recorded mode, read
    without migrating anything."""
    try:
        with db.reading(engine) as conn:
            tables = set(inspect(conn).get_table_names())
            if "ledger_head" not in tables:
                return False, None
            seq = conn.execute(select(m.LedgerHead.seq).where(m.LedgerHead.id == 1)).scalar()
            mode = None
            if "settings" in tables:
                mode = conn.execute(select(m.Setting.value).where(m.Setting.key == MODE)).scalar()
            return bool(seq), mode or ("production" if seq else None)
    except SQLAlchemyError as err:
        answer = classify(err, database=db.sqlite_file(engine))
        if answer is None:
            raise
        raise answer from err


def _check_continuity(home: Home, has_log: bool, traces: dict[str, object], reinitialise: bool) -> None:
    if reinitialise and has_log:
        raise Conflict("このホームのデータベースには記録があります。再初期化するものはありません。",
                       "this home's database holds a log; there is nothing to re-initialise.")
    if reinitialise and not traces:
        raise Conflict("以前の記録の痕跡（鍵・データ・記録の末尾）がありません。--reinitialise なしで実行してください。",
                       "there is no trace of an earlier log (keys, blobs, head record); run without --reinitialise.")
    if has_log or not traces or reinitialise:
        return
    found = ", ".join(f"{k}={v}" if v is not True else k for k, v in traces.items())
    known = head_record.read(home.root)
    head_ja = f"（最後に記録された末尾: {known.size} 件、{known.head[:16]}…）" if known else ""
    head_en = f" (last recorded head: {known.size} entries, {known.head[:16]}…)" if known else ""
    raise Conflict(
        f"このホームには以前のログの痕跡（{found}）がありますが、データベースに記録がありません{head_ja}。"
        "データベースが空にされたか、別のものに置き換えられています。まずバックアップから復元してください"
        "（`gateway doctor` で確認できます）。復元できず、新しいログを始めるしかない場合に限り、"
        "`gateway init --reinitialise` を実行してください。切れた末尾を署名付きで記録し、監査で示されます。",
        f"this home holds traces of an earlier log ({found}) but its database holds no log{head_en}: the "
        "database was emptied or replaced. Restore it from a backup first (`gateway doctor` checks). Only if "
        "that is impossible, run `gateway init --reinitialise`: the new log then records, signed, the head it "
        "cuts off, and the auditor shows it.")


def _refuse_restart_before(known: head_record.KnownHead | None, at: datetime) -> None:
    """A new log starts after the last known time of the one it replaces: a reset must not be a
    way to date entries before what was already recorded."""
    if known is None or not known.at:
        return
    try:
        last = datetime.fromisoformat(known.at)
    except ValueError:
        return
    if last.tzinfo is not None and at < last:
        raise ClockBehind(at, last)


def _record_reinitialisation(session: Session, ledger: Ledger, traces: dict[str, object],
                             known: head_record.KnownHead) -> None:
    where = f"{known.size} entries, head {known.head}" if known.source != "unknown" else "unknown"
    ledger.record(session, Event(
        action=REINITIALISE_ACTION, channel="cli",
        reason=f"a new log replaces an earlier one whose database is gone; previous head: {where} "
               f"(from {known.source})",
        evidence_type="reinitialisation",
        evidence={"previous": known.to_json(), "earlier_traces": dict(traces)},
    ))


def remember_head(engine: Engine, home: Home) -> None:
    """Write the head record (head_record.py) from the database's head."""
    with db.session_scope(engine, read_only=True) as session:
        head = session.get(m.LedgerHead, 1)
        row = session.get(m.Setting, "installation_id")
        if head is None or row is None or not head.seq:
            return
        at = session.scalar(select(m.LogEntry.at).where(m.LogEntry.seq == head.seq))
        size, digest = head.seq, head.hash
        mode = "rehearsal" if is_rehearsal(session) else "production"
    head_record.write(home.root, installation=row.value, size=size, head=digest,
                      at=at.isoformat() if at is not None else "", mode=mode)


def is_rehearsal(session: Session) -> bool:
    row = session.get(m.Setting, MODE)
    return row is not None and row.value == "rehearsal"


def database_url(home: Home, config: settings.Settings) -> str:
    return config.db.url or home.sqlite_url


def open_engine(home: Home, config: settings.Settings | None = None) -> Engine:
    """The database of an initialised installation; refuses one `gateway init` has not prepared."""
    config = config or settings.load(home.root)
    url = make_url(database_url(home, config))
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").exists():
        raise NotInitialised(str(home.root))
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
