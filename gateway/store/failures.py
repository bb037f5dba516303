"""What a failing database or disk means to the person who sees it, and what they should do.

Each fault gets its own answer, because each needs a different hand: "busy" is a moment's wait,
"disk full" and "read-only" are the administrator's file system, "unreachable" is the database
server, "damaged" is a restore from backup (and never `gateway init`, which would start a new log),
"not initialised" is `gateway init`. Telling all of them "run `gateway init`" (as this program did)
sends people to the one command that can make things worse.

None of them is written to the log (errors.NOT_LOGGED): nobody did anything wrong, and the log
may be what cannot be written. Classification reads error codes (SQLite's result codes,
PostgreSQL's SQLSTATE, errno), never message text the drivers may reword, except where a driver
gives no code (a refused TCP connection to PostgreSQL has no SQLSTATE).
"""
from __future__ import annotations

import errno
import os
import sqlite3

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from gateway.errors import Busy, GatewayError, Unavailable

DOCTOR = "`gateway doctor`"


class DatabaseBusy(Busy):
    """The database stayed locked by other writers beyond the busy timeout; nothing was changed.
    A transient condition: the channel tells the person to try again shortly (the portal: 503)."""

    def __init__(self) -> None:
        super().__init__(
            "ただいま混み合っているため処理できませんでした。何も変更されていません。しばらく待ってからもう一度お試しください。",
            "the gateway is busy and could not do this now; nothing was changed. Please try again in a moment.",
        )


class DiskFull(Unavailable):
    def __init__(self, where: str = "") -> None:
        at = f"（{where}）" if where else ""
        at_en = f" ({where})" if where else ""
        super().__init__(
            f"ゲートウェイのディスクが満杯です{at}。この操作は完了せず、記録も変更されていません。"
            f"管理者が空き容量を確保してから、もう一度実行してください（{DOCTOR} で確認できます）。",
            f"the gateway's disk is full{at_en}; this operation did not complete and nothing was recorded. "
            f"The administrator must free space, then try again ({DOCTOR} checks).",
        )


class ReadOnly(Unavailable):
    def __init__(self, where: str = "") -> None:
        at = f"（{where}）" if where else ""
        at_en = f" ({where})" if where else ""
        super().__init__(
            f"ゲートウェイのホーム又はデータベースが読み取り専用です{at}。この操作は完了していません。"
            "管理者はファイルシステムのマウント（ro/rw）と所有者・権限を確認してください。",
            f"the gateway's home or database is read-only{at_en}; this operation did not complete. "
            "The administrator must check the file system's mount (ro/rw) and the owner and permissions.",
        )


class DatabaseUnreachable(Unavailable):
    def __init__(self) -> None:
        super().__init__(
            "データベースに接続できません。何も変更されていません。データベースサーバーが動いているか、"
            "[db] url（又は GATEWAY_DB_URL）と接続先を管理者が確認してください。復旧後にもう一度お試しください。",
            "cannot reach the database; nothing was changed. The administrator must check that the database "
            "server is running and that [db] url (or GATEWAY_DB_URL) names it. Try again once it is back.",
        )


class DatabaseDamaged(Unavailable):
    def __init__(self, detail: str = "") -> None:
        what = f"（{detail}）" if detail else ""
        what_en = f" ({detail})" if detail else ""
        super().__init__(
            f"データベースが破損しています{what}。これ以上壊さないよう、書き込みを止めました。"
            f"管理者は {DOCTOR} で状態を確認し、バックアップから復元してください。"
            "`gateway init` は実行しないでください（新しいログが始まり、これまでの記録と切れます）。",
            f"the database is damaged{what_en}; writing was stopped so that nothing more is lost. "
            f"The administrator must run {DOCTOR} and restore from a backup. Do not run `gateway init` "
            "(it would start a new log, cut off from the records so far).",
        )


class DiskError(Unavailable):
    def __init__(self, detail: str = "") -> None:
        what = f"（{detail}）" if detail else ""
        what_en = f" ({detail})" if detail else ""
        super().__init__(
            f"ディスクの読み書きに失敗しました{what}。この操作は完了していません。管理者はディスクの状態"
            f"（カーネルのログ、空き容量、マウント）を確認し、{DOCTOR} を実行してください。",
            f"reading or writing the disk failed{what_en}; this operation did not complete. The administrator must "
            f"check the disk (the kernel's log, free space, the mount) and run {DOCTOR}.",
        )


class NotInitialised(Unavailable):
    def __init__(self, where: str) -> None:
        super().__init__(
            f"{where} は初期化されていません。新しく設置する場合は `gateway init` を実行してください。"
            "既に使っていたはずの場合は、--home と GATEWAY_HOME、[db] url を確認してください。",
            f"{where} is not initialised. For a new installation, run `gateway init`; if it was in use, "
            "check --home, GATEWAY_HOME and [db] url.",
        )


class SchemaOutOfDate(Unavailable):
    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(
            f"データベースの版（{current or 'なし'}）がこのプログラムの版（{wanted}）と違います。"
            "管理者は `gateway init` で移行してください（記録は保たれます）。",
            f"the database schema ({current or 'none'}) is not this program's ({wanted}); the administrator "
            "must run `gateway init` to migrate it (records are kept).",
        )


# SQLite primary result codes (https://sqlite.org/rescode.html).
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_IOERR = 5, 6, 8, 10
_SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 11, 13, 14, 26
# Below this much free space, an I/O error on the database's file system is the disk being full.
_NEARLY_FULL = 256 * 1024

# PostgreSQL SQLSTATEs.
_PG_BUSY = frozenset({"55P03", "40P01", "40001"})  # lock_not_available, deadlock, serialization
_PG_DISK_FULL = frozenset({"53100"})
_PG_READ_ONLY = frozenset({"25006"})
_PG_DAMAGED = frozenset({"XX001", "XX002"})  # data_corrupted, index_corrupted
_PG_GONE_PREFIXES = ("08", "57P")  # connection exceptions; admin/crash shutdown, cannot connect now


def classify(err: BaseException, *, where: str = "", database: str | None = None) -> GatewayError | None:
    """The person's answer to a database or disk failure, or None if it is none of those (a bug:
    let it surface as one). `database`: the SQLite file, whose file system an I/O error is
    examined on (full? read-only? else a failing disk)."""
    if isinstance(err, GatewayError):
        return err
    if isinstance(err, OSError):
        return _os_error(err, where)
    if isinstance(err, SQLAlchemyError):
        orig = getattr(err, "orig", None)
        if isinstance(orig, sqlite3.Error):
            return _sqlite(orig, database)
        if orig is not None and type(orig).__module__.startswith("psycopg"):
            return _postgres(orig, err)
        if isinstance(err, DBAPIError) and err.connection_invalidated:
            return DatabaseUnreachable()
    return None


def _os_error(err: OSError, where: str) -> GatewayError | None:
    place = where or (str(err.filename) if err.filename else "")
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFull(place)
    if err.errno == errno.EROFS:
        return ReadOnly(place)
    return None


def _sqlite(orig: sqlite3.Error, database: str | None) -> GatewayError | None:
    code = getattr(orig, "sqlite_errorcode", None)
    if code is None:
        return None
    primary = code & 0xFF
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return DatabaseBusy()
    if primary == _SQLITE_FULL:
        return DiskFull("データベース / database")
    if primary == _SQLITE_READONLY:
        return ReadOnly("データベース / database")
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return DatabaseDamaged(getattr(orig, "sqlite_errorname", "SQLITE_CORRUPT"))
    if primary == _SQLITE_CANTOPEN:
        return ReadOnly("データベースを開けません / cannot open the database file")
    if primary == _SQLITE_IOERR:
        # An I/O error is the file system's more often than the file's: growing the WAL or its
        # index on a full disk, writing to one remounted read-only. Look before calling it damage.
        name = getattr(orig, "sqlite_errorname", "SQLITE_IOERR")
        if database:
            try:
                fs = os.statvfs(os.path.dirname(os.path.abspath(database)))
            except OSError:
                return DiskError(name)
            if fs.f_flag & os.ST_RDONLY:
                return ReadOnly("データベース / database")
            if fs.f_bavail * fs.f_frsize < _NEARLY_FULL:
                return DiskFull("データベース / database")
        return DiskError(name)
    return None


def _postgres(orig: BaseException, err: SQLAlchemyError) -> GatewayError | None:
    state = getattr(orig, "sqlstate", None)
    if state in _PG_BUSY:
        return DatabaseBusy()
    if state in _PG_DISK_FULL:
        return DiskFull("データベース / database")
    if state in _PG_READ_ONLY:
        return ReadOnly("データベース / database")
    if state in _PG_DAMAGED:
        return DatabaseDamaged(state)
    if state is None or state.startswith(_PG_GONE_PREFIXES):
        # psycopg gives a refused or dropped connection no SQLSTATE; an OperationalError without
        # one is the server being away, never a statement's fault (those all carry one).
        if type(orig).__name__ in ("OperationalError", "InterfaceError") or state is not None:
            return DatabaseUnreachable()
    if isinstance(err, DBAPIError) and err.connection_invalidated:
        return DatabaseUnreachable()
    return None


def is_damage(err: GatewayError) -> bool:
    return isinstance(err, DatabaseDamaged)
