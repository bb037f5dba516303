"""The one path that logs a refusal: every operation runs inside an `attempt`.

Whichever channel called it (command line, portal, SFTP, courier desk, hot folder), an operation
that raises a `GatewayError` leaves exactly one `refused` entry in the log, with the error's
finding kinds, and one that fails unexpectedly leaves one `failed` entry. The attempted change
itself was rolled back with its transaction; the entry is written in a transaction of its own.

An attempt learns what it is about as it goes (`a.approval`, `a.transfer`), so the refusal names
the transfer once the operation has found it and the caller may know of it. Attempts nest: the
innermost logs, the outer ones see `err.logged` and add nothing.

Busy and unavailable are not refusals (`errors.NOT_LOGGED`): nobody did anything wrong, and a
database that cannot take the change could not take its entry either.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from gateway.errors import NOT_LOGGED, GatewayError
from gateway.ledger.log import Actor, Event
from gateway.operations.accounts import Caller, account, actor
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.failures import classify

_log = logging.getLogger("gateway.attempt")


@dataclass
class Attempt:
    gw: Gateway
    action: str
    channel: str
    actor: Actor
    source: str | None = None
    approval: str | None = None
    transfer: str | None = None
    caller: Caller | None = None
    subject_org: str | None = None  # the organisation an administrative act concerns, once known
    _user: m.User | None = field(default=None, repr=False)

    @property
    def user(self) -> m.User:
        """The caller's account (resolved when the attempt began; detached, read-only)."""
        if self._user is None:
            raise RuntimeError(f"{self.action}: an attempt by {self.actor.user or self.actor.role} has no account")
        return self._user

    def event(self, **members: object) -> Event:
        """An entry of this attempt (its action, channel, actor, source and objects) with `members`."""
        base: dict[str, object] = {"action": self.action, "channel": self.channel, "actor": self.actor,
                                   "source": self.source, "approval": self.approval, "transfer": self.transfer,
                                   "subject_org": self.subject_org}
        if self.caller is not None and self.caller.proxy is not None:
            # Proxy entry: the entry names the person; who typed it in, from what paper, is said here.
            reason = members.get("reason")
            members = {**members, "reason": f"{reason}; {self.caller.proxy.note()}" if reason
                       else self.caller.proxy.note()}
        return Event(**{**base, **members})  # type: ignore[arg-type]

    def refuse_in(self, session: Session, err: GatewayError) -> GatewayError:
        """Log the refusal inside `session`, for a refusal whose own change must persist with it
        (a failed login's counters). Returns `err`, for the caller to raise after the commit."""
        self.gw.ledger.record(session, _refusal(self, err))
        err.logged = True
        return err


@contextmanager
def attempt(gw: Gateway, who: Caller | Actor, action: str, *, channel: str | None = None,
            source: str | None = None, approval: str | None = None, transfer: str | None = None) -> Iterator[Attempt]:
    """Run one operation; a refusal or failure inside it is logged once, then raised again.

    `who` is a channel's `Caller` (its account is looked up, and an unknown or disabled one is a
    refusal like any other) or an `Actor` the caller already knows (the system, a scheduler)."""
    if isinstance(who, Caller):
        a = Attempt(gw, action, channel or who.channel,
                    Actor(user=who.login, terminal=who.terminal, ssh_key=who.ssh_key),
                    source=source or who.source, approval=approval, transfer=transfer, caller=who)
    else:
        if channel is None:
            raise ValueError("an attempt by an Actor names its channel")
        a = Attempt(gw, action, channel, who, source=source, approval=approval, transfer=transfer)
    try:
        if a.caller is not None:
            with gw.read() as session:
                user = account(session, a.caller.login)
                session.expunge(user)
            a._user, a.actor = user, actor(user, a.caller)
        yield a
    except GatewayError as err:
        if not err.logged and err.category not in NOT_LOGGED:
            gw.record(_refusal(a, err))
            err.logged = True
        raise
    except Exception as err:
        # Not a refusal: a fault (a full disk, a bug). The log still says the action was tried
        # and did not complete; if even that cannot be written, the original error wins.
        # A full or read-only disk is told as what it is, with what to do, not as a traceback.
        answer = classify(err)
        try:
            gw.record(a.event(outcome="failed", reason=f"{type(err).__name__}: the operation did not complete"))
        except Exception as unlogged:  # the log is what failed: say so on the server's side, raise the cause
            if answer is None:
                _log.exception("%s: could not log the failure", action)
            else:  # the same full or read-only disk: its answer below says all there is to say
                _log.warning("%s: could not log the failure (%s)", action, type(unlogged).__name__)
        if answer is None:
            raise
        answer.logged = True  # its "failed" entry (if it could be written) is above
        raise answer from err


def refuse(gw: Gateway, who: Actor, action: str, err: GatewayError, *, channel: str, source: str | None = None,
           approval: str | None = None, transfer: str | None = None) -> GatewayError:
    """Log a refusal that no operation raised (a channel turning something away at its door: a
    link dropped into the hot folder). Returns `err`, logged, for the caller to raise or report."""
    with contextlib.suppress(GatewayError):
        with attempt(gw, who, action, channel=channel, source=source, approval=approval, transfer=transfer):
            raise err
    return err


def _refusal(a: Attempt, err: GatewayError) -> Event:
    return a.event(outcome="refused", kinds=err.kinds, reason=err.detail or err.en)
