"""The one clock the service reads, so tests and simulations can move time.

Times are aware datetimes in UTC inside the gateway and shown in JST to people.

Time is evidence: every log entry and signed document says when it happened, and the council reads
those times against an approval's period. So a fake clock (`$GATEWAY_FAKE_NOW`, `--now`, a clock
handed in by the simulator) is accepted only by a home created for rehearsal (`gateway init
--rehearsal`), which says so in its log; a production home refuses it (`for_home`). Whatever the
clock, the log refuses an entry dated before the one it follows (gateway.ledger.log).
"""
from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone

from gateway.errors import Forbidden

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


FAKE_NOW = "GATEWAY_FAKE_NOW"


def from_environment() -> Clock:
    """The system clock, or a fixed one from `$GATEWAY_FAKE_NOW` for rehearsals and tests, whatever
    the home: only for what records nothing (`gateway package`, `gateway generate`). Anything that
    writes to a home takes its clock from `for_home`.

    Rehearsals replay 2020's mailings inside 2020's approval periods; the fake time is what every
    log entry and evidence document then carries, so a rehearsal's evidence says when it "was".
    """
    return _fake_from_environment() or Clock()


def _fake_from_environment() -> FixedClock | None:
    fake = os.environ.get(FAKE_NOW)
    if not fake:
        return None
    try:
        at = datetime.fromisoformat(fake)
    except ValueError:
        raise Forbidden(f"{FAKE_NOW} の値「{fake[:40]}」を日時として読めません。例: 2020-06-01T10:00:00+09:00",
                        f"cannot read {FAKE_NOW}={fake[:40]!r} as a time; e.g. 2020-06-01T10:00:00+09:00") from None
    return FixedClock(at if at.tzinfo else at.replace(tzinfo=JST))


class FakeTimeRefused(Forbidden):
    """A production home was handed a time other than the real one."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"このホームは本番用です。{what}（実際と異なる時刻）は使えません。記録の時刻は証拠であり、"
            "本番では実際の時刻だけを記録します。指定を外して実行してください。試験やリハーサルには、"
            "`gateway init --rehearsal` で別のホームを作ってください。",
            f"this is a production home: {what} (a time other than the real one) is refused, because the "
            "times in its log are evidence. Run without it; for tests and rehearsals, create a separate home "
            "with `gateway init --rehearsal`.",
        )
        self.what = what


def for_home(*, rehearsal: bool, given: Clock | None = None) -> Clock:
    """The one clock of a home: the real one in production, which refuses any other; in a
    rehearsal home the clock handed in (`--now`, the simulator's), else `$GATEWAY_FAKE_NOW`, else
    the real one."""
    if given is not None and type(given) is not Clock:
        if not rehearsal:
            raise FakeTimeRefused("--now / 指定された時計 (a given clock)")
        return given
    fake = _fake_from_environment()
    if fake is not None:
        if not rehearsal:
            raise FakeTimeRefused(FAKE_NOW)
        return fake
    return given or Clock()


def real_now() -> datetime:
    """The real time, for what is checked against the real time by someone else and is not
    evidence: the validity of a TLS certificate a real client verifies. Never for a log entry."""
    return datetime.now(UTC)


def monotonic() -> float:
    """Seconds on a clock that never jumps, for timeouts and retry delays only (never evidence):
    how long to wait for a witness must not depend on the wall clock, nor on a rehearsal's."""
    import time

    return time.monotonic()
