"""The bundle's single time format: RFC 3339 UTC with microseconds (FORMAT.md, Primitives)."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

_RFC3339_MICRO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")
JST = timezone(timedelta(hours=9), "JST")


def parse(value: Any) -> datetime | None:
    """The time, or None when `value` is not exactly in the bundle's format."""
    if type(value) is not str or not _RFC3339_MICRO.match(value):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def jst(value: datetime | None) -> str:
    """For people: Japan time, which is what the city's own records use."""
    if value is None:
        return "—"
    return value.astimezone(JST).strftime("%Y-%m-%d %H:%M")
