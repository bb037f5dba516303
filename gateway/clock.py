"""The one clock the service reads, so tests and simulations can move time.

Times are aware datetimes in UTC inside the gateway and shown in JST to people.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

JST = timezone(timedelta(hours=9), "JST")


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock(Clock):
    """A clock that stands still until told to move (tests, simulations)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._now = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, at: datetime) -> None:
        self._now = at.astimezone(UTC)


def to_jst(at: datetime) -> datetime:
    return at.astimezone(JST)


def timestamp(at: datetime) -> str:
    """RFC 3339 UTC with microseconds, as every signed document writes times (audit/FORMAT.md)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_environment() -> Clock:
    """The system clock, or a fixed one from `$GATEWAY_FAKE_NOW` for rehearsals and tests.

    Rehearsals replay 2020's mailings inside 2020's approval periods; the fake time is what every
    log entry and evidence document then carries, so a rehearsal's evidence says when it "was".
    """
    import os

    fake = os.environ.get("GATEWAY_FAKE_NOW")
    if not fake:
        return Clock()
    at = datetime.fromisoformat(fake)
    return FixedClock(at if at.tzinfo else at.replace(tzinfo=JST))


def monotonic() -> float:
    """Seconds on a clock that never jumps, for timeouts and retry delays only (never evidence):
    how long to wait for a witness must not depend on the wall clock, nor on a rehearsal's."""
    import time

    return time.monotonic()
