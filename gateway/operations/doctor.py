"""`gateway doctor`: is this installation whole, and if not, exactly what is wrong and what to do.

Every check runs even when another failed (a damaged database does not hide a full disk), and
each says, Japanese first, what it found and what the administrator should do. Nothing is changed
unless `repair` is asked for, and then only what is safe while the service runs: leftovers of
processes that no longer exist (plaintext uploads, password notices of transfers that never
committed, partial blob files). A package file that is missing or damaged is never "repaired":
it is restored from a backup, because it is evidence as much as data.

The checks:
- database: SQLite's `PRAGMA quick_check` (a malformed page is found here before a write trips on
  it); on PostgreSQL, a connection; on both, the schema revision;
- log: every entry's hash and link from the start (or the last pruning statement), the head the
  appenders keep, times that never go back, and the home's record of the head (a database
  restored from an older backup has lost what came after it);
- clock: the home's clock against the log's last entry (a clock set back stops every write);
- blobs: every package the gateway still holds, decrypted and hashed against its recorded SHA-256;
  files no key opens; partial files of killed writers;
- work area: what killed processes left (plaintext, passphrases), and whether the home is writable;
- directory (when `[directory]` is set): the city's LDAP directory answers over TLS with a
  certificate `cafile` trusts, without which no member of staff can log in.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, make_url, select, text
from sqlalchemy.exc import SQLAlchemyError

from gateway import settings as settings_module
from gateway.clock import for_home
from gateway.crypto.keystore import KeyStore
from gateway.directory.client import probe
from gateway.directory.config import DirectoryConfig
from gateway.errors import GatewayError
from gateway.fsutil import temporary_owner
from gateway.home import Home
from gateway.installation import database_url, is_rehearsal
from gateway.ledger import head_record
from gateway.ledger.hashing import leaf_hash
from gateway.ledger.range_check import origin
from gateway.operations import workarea
from gateway.store import db
from gateway.store import models as m
from gateway.store.blobs import BlobIntegrityFailure
from gateway.store.blobs import for_home as blob_store_for_home
from gateway.store.failures import DatabaseDamaged, NotInitialised, classify

OK, WARNING, ERROR = "ok", "warning", "error"
FREE_DISK_WARNING = 1024**3  # below this, a full-size package (and its copies) may not fit
LOG_PROBLEMS_SHOWN = 20


@dataclass
class Check:
    check: str
    status: str
    ja: str
    en: str
    details: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "status": self.status, "ja": self.ja, "en": self.en, "details": self.details}


@dataclass
class Diagnosis:
    home: str
    checks: list[Check] = field(default_factory=list)
    repaired: dict[str, list[str]] | None = None
    rehearsal: bool | None = None

    @property
    def ok(self) -> bool:
        return all(c.status != ERROR for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "home": self.home, "rehearsal": self.rehearsal,
                "checks": [c.to_json() for c in self.checks], "repaired": self.repaired}


def diagnose(home: Home, *, repair: bool = False) -> Diagnosis:
    out = Diagnosis(str(home.root))
    out.checks.append(_guard("home", lambda: _home(home)))
    engine = None
    try:
        config = settings_module.load(home.root)
    except GatewayError as err:
        out.checks.append(Check("settings", ERROR, err.ja, err.en))
        return out
    try:
        engine, check = _database(home, config)
        out.checks.append(check)
        if check.status == ERROR:
            engine.dispose()
            engine = None
    except GatewayError as err:
        out.checks.append(_from_error("database", err))
    if engine is None:
        out.checks.append(_guard("work", lambda: _work(home, None)))
        return out
    try:
        if repair:
            try:
                out.repaired = _repair(home, engine)
            except GatewayError as err:  # e.g. a fake clock in a production home: say so, check on
                out.checks.append(_from_error("repair", err))
        with db.session_scope(engine, read_only=True) as session:
            out.rehearsal = is_rehearsal(session)
        out.checks.append(_guard("log", lambda: _log(home, engine)))
        out.checks.append(_guard("clock", lambda: _clock(engine, bool(out.rehearsal))))
        out.checks.append(_guard("blobs", lambda: _blobs(home, config, engine, bool(out.rehearsal))))
        out.checks.append(_guard("work", lambda: _work(home, engine)))
        if config.directory is not None:
            directory = config.directory
            out.checks.append(_guard("directory", lambda: _directory(directory)))
    finally:
        engine.dispose()
    return out


def _guard(name: str, run: Callable[[], Check]) -> Check:
    """A check that met a database or disk fault reports that fault as its finding."""
    try:
        return run()
    except GatewayError as err:
        return _from_error(name, err)
    except (SQLAlchemyError, OSError) as exc:
        told = classify(exc)
        if told is None:
            return Check(name, ERROR, f"確認できませんでした（{type(exc).__name__}）。", f"could not check ({type(exc).__name__}).")
        return _from_error(name, told)


def _from_error(name: str, err: GatewayError) -> Check:
    return Check(name, ERROR, err.ja, err.en)


# -- the home and its disk -------------------------------------------------------------------

def _home(home: Home) -> Check:
    if not home.root.is_dir():
        err = NotInitialised(str(home.root))
        return Check("home", ERROR, err.ja, err.en)
    details = []
    try:
        with tempfile.NamedTemporaryFile(dir=home.root, prefix=f".{os.getpid()}-doctor-", suffix=".tmp"):
            pass
    except OSError as exc:
        told = classify(exc)
        if told is not None:
            return Check("home", ERROR, told.ja, told.en)
        return Check("home", ERROR, f"ホームに書き込めません（{exc.strerror}）。所有者と権限を確認してください。",
                     f"cannot write to the home ({exc.strerror}); check its owner and permissions.")
    free = shutil.disk_usage(home.root).free
    details.append(f"free {free:,} bytes")
    if free < FREE_DISK_WARNING:
        return Check("home", WARNING, f"空き容量が少なくなっています（{free:,} バイト）。大きな送付が失敗する前に空きを確保してください。",
                     f"little free disk left ({free:,} bytes); free space before a large send fails.", details)
    return Check("home", OK, "ホームは書き込み可能で、空き容量があります。", "the home is writable and has free disk.", details)


# -- the database ----------------------------------------------------------------------------

def _database(home: Home, config: settings_module.Settings) -> tuple[Engine, Check]:
    url = make_url(database_url(home, config))
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").exists():
        raise NotInitialised(str(home.root))
    engine = db.connect(url.render_as_string(hide_password=False), busy_timeout_ms=config.db.busy_timeout_ms)
    details: list[str] = []
    try:
        if engine.dialect.name == "sqlite":
            with db.reading(engine) as conn:
                # quick_check reads every page (not the index contents): a malformed page is found
                # here, not by the write that would trip on it.
                rows = [r[0] for r in conn.execute(text("PRAGMA quick_check(20)"))]
            if rows != ["ok"]:
                err = DatabaseDamaged("quick_check")
                return engine, Check("database", ERROR, err.ja, err.en, rows)
            details.append("PRAGMA quick_check: ok")
        else:
            with db.reading(engine) as conn:
                conn.execute(text("SELECT 1"))
            details.append("connected")
        db.require_current(engine)
        details.append(f"schema {db.head_revision()}")
    except SQLAlchemyError as exc:
        told = classify(exc, database=db.sqlite_file(engine))
        if told is None:
            raise
        return engine, Check("database", ERROR, told.ja, told.en, details)
    except GatewayError as err:
        return engine, Check("database", ERROR, err.ja, err.en, details)
    return engine, Check("database", OK, "データベースは読めて、壊れておらず、版も最新です。",
                         "the database answers, is not damaged and its schema is current.", details)


# -- the log ---------------------------------------------------------------------------------

def _log(home: Home, engine: Engine) -> Check:
    problems: list[str] = []
    with db.session_scope(engine, read_only=True) as session:
        pruned, prev, _ = origin(session)
        seq, last_at = pruned, None
        head = session.get(m.LedgerHead, 1)
        rows = session.execute(select(m.LogEntry.seq, m.LogEntry.hash, m.LogEntry.body)
                               .order_by(m.LogEntry.seq)).yield_per(2000)
        for row in rows:
            seq += 1
            entry = json.loads(row.body)
            if entry.get("seq") != row.seq or row.seq != seq:
                problems.append(f"entry {row.seq}: out of order or missing before it")
                seq = row.seq
            if entry.get("prev") != prev:
                problems.append(f"entry {row.seq}: does not link to the entry before it")
            if leaf_hash(entry) != row.hash:
                problems.append(f"entry {row.seq}: content does not match its hash")
            if last_at is not None and entry.get("at", "") < last_at:
                problems.append(f"entry {row.seq}: dated {entry.get('at')}, before the entry before it ({last_at})")
            last_at = entry.get("at", last_at)
            prev = row.hash
            if len(problems) >= LOG_PROBLEMS_SHOWN:
                break
        if not problems and (head is None or head.seq != seq or (seq and head.hash != prev)):
            problems.append("the head the appenders keep does not match the last entry")
        size = head.seq if head is not None else 0
    if problems:
        return Check("log", ERROR,
                     "アクセスログのハッシュ連鎖が整合しません。改ざん又は破損の疑いがあります。これ以上操作せず、"
                     "`gateway export evidence` と `audit verify` で確認し、バックアップと照合してください。",
                     "the access log's hash chain does not verify: it was altered or damaged. Stop, check it with "
                     "`gateway export evidence` and `audit verify`, and compare with a backup.", problems)
    details = [f"{size - pruned} entries" + (f" after {pruned} pruned" if pruned else ""), f"head {prev}"]
    known = head_record.read(home.root)
    if known is not None and known.size > size:
        return Check("log", ERROR,
                     f"ログは {size} 件目で終わっていますが、このホームの記録では {known.size} 件目まで書かれていました。"
                     "データベースが古いバックアップに戻されたか置き換えられ、その後の記録が失われています。"
                     "最新のバックアップから復元してください。",
                     f"the log ends at entry {size}, but this home recorded entries up to {known.size}: the database "
                     "was restored from an older backup or replaced, and what came after is lost. Restore the newest "
                     "backup.", details + [f"home record: {known.size} entries, head {known.head}"])
    return Check("log", OK, "アクセスログのハッシュ連鎖は整合し、時刻も戻っていません。",
                 "the access log's hash chain verifies and its times never go back.", details)


def _clock(engine: Engine, rehearsal: bool) -> Check:
    with db.session_scope(engine, read_only=True) as session:
        head = session.get(m.LedgerHead, 1)
        last = session.scalar(select(m.LogEntry.at).where(m.LogEntry.seq == head.seq)) if head and head.seq else None
    now = for_home(rehearsal=rehearsal).now()
    details = [f"now {now.isoformat()}", f"last entry {last.isoformat() if last else '-'}"]
    if last is not None and now < last:
        return Check("clock", ERROR,
                     "時計がアクセスログの最後の記録より前を指しています。このままでは何も記録できません。"
                     "管理者はシステムの時計（NTP）を確認してください。",
                     "the clock reads earlier than the log's last entry: nothing can be recorded until it is "
                     "right. The administrator must check the system clock (NTP).", details)
    mode = "リハーサル用（仮の時刻） / rehearsal (fake time)" if rehearsal else "本番用（実際の時刻） / production (real time)"
    return Check("clock", OK, f"時計はログの最後の記録より後です（{mode}）。",
                 f"the clock is after the log's last entry ({mode}).", details)


# -- the blobs -------------------------------------------------------------------------------

class _Sha:
    def __init__(self) -> None:
        self.h = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.h.update(data)
        return len(data)


def _blobs(home: Home, config: settings_module.Settings, engine: Engine, rehearsal: bool) -> Check:
    store = blob_store_for_home(home, config, KeyStore(home.keys).kek())
    bad: list[str] = []
    finishing: list[str] = []
    checked = 0
    now = for_home(rehearsal=rehearsal).now()
    with db.session_scope(engine, read_only=True) as session:
        live = session.execute(select(m.Blob.id, m.Blob.sha256).where(m.Blob.wrapped_key.is_not(None))
                               .order_by(m.Blob.id)).all()
        owners = {b: (t, due) for b, t, due in session.execute(
            select(m.Transfer.package_blob_id, m.Transfer.id, m.Transfer.gateway_erase_due)).all()}
    for blob_id, sha256 in live:
        with db.session_scope(engine, read_only=True) as session:
            key = store.data_key(session, blob_id)
        digest = _Sha()
        transfer, due = owners.get(blob_id, ("-", None))
        if not store.exists(blob_id) and due is not None and due <= now:
            # A sweep killed between deleting the file and destroying the key: the copy was due
            # and is gone; the next sweep destroys the key and records the erasure.
            finishing.append(f"{transfer}: erasure due {due.isoformat()}, file already deleted")
            continue
        try:
            store.copy_out(blob_id, key, digest)  # type: ignore[arg-type]
        except BlobIntegrityFailure as err:
            bad.append(f"{transfer}: {store.where(blob_id)}: {(err.detail or '').split(': ', 1)[-1]}")
            continue
        checked += 1
        if digest.h.hexdigest() != sha256:
            bad.append(f"{transfer}: {store.where(blob_id)}: SHA-256 differs from the one recorded")
    live_ids = {b for b, _ in live}
    orphans = [f for f in store.iter_files() if f not in live_ids]
    partial = list(store.iter_temporaries())
    dead = [p for p in partial if (o := temporary_owner(p)) is not None and not workarea.alive(o)]
    details = [f"{checked} packages decrypted and hashed"]
    if orphans:
        details.append(f"{len(orphans)} files no key opens (removed by the sweep after 6 h): {', '.join(orphans[:5])}")
    if bad:
        return Check("blobs", ERROR,
                     f"保管中のパッケージ {len(bad)} 件が失われたか壊れています（鍵は残っています）。ゲートウェイ側の障害です。"
                     "該当するファイルをバックアップから元の場所へ復元し、もう一度 `gateway doctor` を実行してください。",
                     f"{len(bad)} packages the gateway keeps are missing or damaged although their keys exist (a fault "
                     "of the gateway). Restore those files from a backup to the paths shown, then run `gateway doctor` "
                     "again.", bad + details)
    if finishing:
        return Check("blobs", WARNING,
                     f"中断された保管期間の消去が {len(finishing)} 件あります（ファイルは削除済み、鍵は未破棄）。"
                     "次の `gateway retention sweep`（又は `gateway serve` の定期処理）が完了させます。",
                     f"{len(finishing)} erasures were interrupted (file deleted, key not yet destroyed); the next "
                     "`gateway retention sweep` (or `gateway serve`'s timer) completes them.", finishing + details)
    if dead:
        return Check("blobs", WARNING,
                     f"中断された書き込みの一時ファイルが {len(dead)} 件あります（暗号文のみ）。`gateway doctor --repair` "
                     "又は次の保管期間の処理で削除されます。",
                     f"{len(dead)} partial files of killed writes (ciphertext only); `gateway doctor --repair` or the "
                     "next sweep removes them.", [str(p) for p in dead] + details)
    return Check("blobs", OK, "保管中のパッケージはすべて復号でき、記録された SHA-256 と一致します。",
                 "every package the gateway keeps decrypts and matches its recorded SHA-256.", details)


# -- the work area ---------------------------------------------------------------------------

def _work(home: Home, engine: Engine | None) -> Check:
    work = home.root / "work"
    leftovers = workarea.stale(work)
    if not leftovers:
        live = len(list(work.iterdir())) if work.is_dir() else 0
        return Check("work", OK, "作業領域に残されたもの（平文・パスワード通知書）はありません。",
                     "nothing was left in the work area (no plaintext, no password notices).",
                     [f"{live} files of running processes"] if live else [])
    details = [f"{p.name}: {workarea.holds(p)}" for p in leftovers]
    secret = [p for p in leftovers if workarea.is_sensitive(p)]
    if secret:
        return Check("work", ERROR,
                     f"停止したプロセスが作業領域に、平文の住民データ又はパスワードを含むファイルを {len(secret)} 件"
                     "残しています。`gateway doctor --repair` で削除してください（`gateway serve` も起動時と定期的に"
                     "削除します）。",
                     f"processes that died left {len(secret)} files in the work area that hold residents' data in "
                     "plaintext or passphrases; remove them with `gateway doctor --repair` (`gateway serve` also "
                     "does, at start and on its timer).", details)
    return Check("work", WARNING,
                 f"停止したプロセスの残した暗号文・作業用ファイルが {len(leftovers)} 件あります（平文や秘密は含みません）。"
                 "次の送付、`gateway serve` の起動又は `gateway doctor --repair` で削除されます。",
                 f"processes that died left {len(leftovers)} files of ciphertext or bookkeeping (no plaintext, no "
                 "secrets); the next send, `gateway serve` or `gateway doctor --repair` removes them.", details)


# -- repair ----------------------------------------------------------------------------------

def _directory(config: DirectoryConfig) -> Check:
    """The city's directory answers over TLS with a certificate we trust: without it no member of
    staff can log in (no password is sent: whether a person's password works is their login's to say)."""
    answer = probe(config)
    if answer.outcome != "ok":
        return Check("directory", ERROR,
                     "ディレクトリに TLS で接続できません。[directory] の url と cafile、サーバーの証明書を"
                     f"確認してください（{answer.detail}）。",
                     f"the directory cannot be reached over TLS: check url and cafile in [directory], and the server's "
                     f"certificate ({answer.detail}).")
    return Check("directory", OK, f"ディレクトリに TLS で接続でき、証明書も信頼できます（{answer.detail}）。",
                 f"the directory answers over TLS with a trusted certificate ({answer.detail}).")


def _repair(home: Home, engine: Engine) -> dict[str, list[str]]:
    """What is safe while the service runs: only leftovers of processes that no longer exist."""
    from gateway.operations.workarea import remove_dead_temporaries
    from gateway.service import Gateway

    gw = Gateway.open(home)
    try:
        recovered = workarea.recover(gw)
        temporaries = [str(p) for p in remove_dead_temporaries(home.blobs)]
    finally:
        gw.engine.dispose()
    return {**recovered.to_json(), "temporaries_removed": temporaries}
