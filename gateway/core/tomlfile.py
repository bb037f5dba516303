"""Strict reading of the TOML files people write (approvals, transfer profiles, scenarios).

A typo in an approval must not silently widen what it permits, so unknown keys, missing keys and
wrong types are errors that name the file and the key.
"""
from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from gateway.clock import JST
from gateway.errors import Invalid

# The largest integer a definition may hold: what signed evidence (RFC 8785 JSON, IEEE doubles)
# carries exactly, and far inside a 64-bit database column.
MAX_INT = 2**53 - 1


class DefinitionError(Invalid):
    """A definition file (approval, profile, scenario) that cannot be accepted."""


def read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DefinitionError(
            f"{path}: ファイルを読めません（{err.strerror}）。パスを確認してください。",
            f"{path}: cannot read the file ({err.strerror}); check the path.",
        ) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DefinitionError(
            f"{path}: UTF-8 ではありません。UTF-8 で保存し直してください。",
            f"{path}: not UTF-8; save it as UTF-8.",
        ) from None


def parse(text: str, path: Path | str) -> dict[str, Any]:
    """`path` only names the source in messages (a file, or e.g. "approval:ID" from the database)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise DefinitionError(
            f"{path}: TOML として読めません（{err}）。",
            f"{path}: not valid TOML ({err}).",
        ) from None
    except RecursionError:
        # tomllib recurses once per level of nested arrays or inline tables: thousands of levels
        # are no definition anyone wrote, and must not end the process in a traceback.
        raise DefinitionError(
            f"{path}: 配列や表の入れ子が深すぎます。定義を見直してください。",
            f"{path}: arrays or tables are nested too deeply; check the definition.",
        ) from None


class Table:
    """One TOML table read key by key; `done()` refuses whatever was not read."""

    def __init__(self, data: Any, where: str, path: Path | str) -> None:
        if not isinstance(data, dict):
            raise _bad(path, where, "表（テーブル）", "a table")
        self._data = data
        self._seen: set[str] = set()
        self.where = where
        self.path = path

    def _key(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def _get(self, key: str, required: bool) -> Any:
        self._seen.add(key)
        if key not in self._data:
            if required:
                typo = difflib.get_close_matches(key, [k for k in self._data if k not in self._seen], n=1)
                hint_ja = f"（「{self._key(typo[0])}」の綴り違いではありませんか）" if typo else ""
                hint_en = f" (did you mean '{self._key(typo[0])}'?)" if typo else ""
                raise DefinitionError(
                    f"{self.path}: 必須の項目「{self._key(key)}」がありません{hint_ja}。追加してください。",
                    f"{self.path}: required key '{self._key(key)}' is missing{hint_en}; add it.",
                )
            return None
        return self._data[key]

    def text(self, key: str, *, required: bool = True, default: str | None = None) -> str | None:
        value = self._get(key, required)
        if value is None:
            return default
        if not isinstance(value, str) or (required and not value.strip()):
            raise _bad(self.path, self._key(key), "空でない文字列", "a non-empty string")
        return value

    def integer(self, key: str, *, required: bool = True, minimum: int = 0, maximum: int = MAX_INT) -> int | None:
        """An integer within [minimum, maximum]: every number a definition holds ends up in a
        database column, a date computation or signed JSON, all of which have limits."""
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise _bad(self.path, self._key(key), f"{minimum}〜{maximum:,} の整数",
                       f"an integer from {minimum} to {maximum:,}")
        return value

    def flag(self, key: str, *, default: bool = False) -> bool:
        value = self._get(key, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise _bad(self.path, self._key(key), "true または false", "true or false")
        return value

    def texts(self, key: str, *, required: bool = True, choices: Iterable[str] | None = None) -> tuple[str, ...]:
        value = self._get(key, required)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _bad(self.path, self._key(key), "文字列の配列", "an array of strings")
        if choices is not None:
            allowed = tuple(choices)
            for v in value:
                if v not in allowed:
                    raise DefinitionError(
                        f"{self.path}: 「{self._key(key)}」の値「{v}」は使えません。使える値: {', '.join(allowed)}",
                        f"{self.path}: '{self._key(key)}' has the unknown value '{v}'; allowed: {', '.join(allowed)}",
                    )
        if len(set(value)) != len(value):
            raise _bad(self.path, self._key(key), "重複のない配列", "an array without duplicates")
        return tuple(value)

    def choice(self, key: str, choices: Iterable[str], *, required: bool = True) -> str | None:
        value = self.text(key, required=required)
        allowed = tuple(choices)
        if value is not None and value not in allowed:
            raise DefinitionError(
                f"{self.path}: 「{self._key(key)}」の値「{value}」は使えません。使える値: {', '.join(allowed)}",
                f"{self.path}: '{self._key(key)}' has the unknown value '{value}'; allowed: {', '.join(allowed)}",
            )
        return value

    def date(self, key: str, *, required: bool = True) -> date | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, datetime) or not isinstance(value, date):
            raise _bad(self.path, self._key(key), "日付（例 2020-05-15）", "a date (e.g. 2020-05-15)")
        return value

    def instant(self, key: str, *, required: bool = True, end_of_day: bool = False) -> datetime | None:
        """A date (whole day in JST) or a datetime; naive datetimes are JST, as the councils write them.

        With `end_of_day`, a bare date means the first instant after that day, so that the day is
        included in a half-open interval.
        """
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=JST)
        if isinstance(value, date):
            start = datetime.combine(value, time(0, 0), tzinfo=JST)
            return start + timedelta(days=1) if end_of_day else start
        raise _bad(self.path, self._key(key), "日付または日時", "a date or a date-time")

    def table(self, key: str, *, required: bool = True) -> Table | None:
        value = self._get(key, required)
        if value is None:
            return None
        return Table(value, self._key(key), self.path)

    def tables(self, key: str, *, required: bool = True) -> list[Table]:
        value = self._get(key, required)
        if value is None:
            return []
        if not isinstance(value, list):
            raise _bad(self.path, self._key(key), "表の配列（[[...]]）", "an array of tables ([[...]])")
        return [Table(item, f"{self._key(key)}[{i}]", self.path) for i, item in enumerate(value)]

    def raw(self, key: str) -> Any:
        return self._get(key, False)

    def rest(self) -> dict[str, Any]:
        """Every key not read yet, as it is (for free-form tables such as a scenario step)."""
        items = {k: v for k, v in self._data.items() if k not in self._seen}
        self._seen.update(items)
        return items

    def done(self) -> None:
        unknown = sorted(set(self._data) - self._seen)
        if unknown:
            names = ", ".join(self._key(k) for k in unknown)
            known = sorted(self._seen - set(self._data))
            guesses = [f"{self._key(k)} → {self._key(g[0])}" for k in unknown
                       if (g := difflib.get_close_matches(k, known, n=1))]
            hint_ja = f"（{'、'.join(guesses)} の綴り違いではありませんか）" if guesses else ""
            hint_en = f" (did you mean: {', '.join(guesses)}?)" if guesses else ""
            raise DefinitionError(
                f"{self.path}: 不明な項目があります: {names}{hint_ja}。綴りを確認するか削除してください。",
                f"{self.path}: unknown keys: {names}{hint_en}; fix their spelling or remove them.",
            )


def _bad(path: Path | str, key: str, ja: str, en: str) -> DefinitionError:
    return DefinitionError(
        f"{path}: 「{key}」は{ja}でなければなりません。",
        f"{path}: '{key}' must be {en}.",
    )
