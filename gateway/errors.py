"""Errors a person can cause and act on: the one vocabulary every channel answers with.

Every message is bilingual, Japanese first, English second, and says what was wrong and what to do.
Messages never carry secrets (passphrases, keys, personal data from a recipient file).

What a channel does with an error depends only on its category (and, for refusals, its finding
kinds), never on its text: the portal picks an HTTP status, SFTP a status code, the command line
its exit code and `--json` answer, each in one place. Rewording a message changes no API.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from gateway.findings import Kind


class Category(StrEnum):
    """What kind of "no" this is, so that each channel answers it the same way every time."""

    INVALID = "invalid"  # the input is malformed or incomplete: correct it and try again
    UNAUTHENTICATED = "unauthenticated"  # who is asking is not established (login failed, locked)
    FORBIDDEN = "forbidden"  # this person may not do this
    NOT_FOUND = "not-found"  # no such object, or not one the caller may know of (ids reveal nothing)
    CONFLICT = "conflict"  # the object's state does not allow it now (already decided, exists)
    GONE = "gone"  # it existed and was erased
    TOO_LARGE = "too-large"  # beyond a size the installation allows
    REFUSED = "refused"  # a rule of the approval or profile refuses it; carries finding kinds
    BUSY = "busy"  # transient contention: nothing changed, try again in a moment
    UNAVAILABLE = "unavailable"  # the installation cannot work now (database or disk): the administrator acts
    # The gateway lost or damaged what it was keeping (a package file missing or corrupted although
    # its key exists): the gateway's fault, logged and alerted; the administrator restores it.
    DAMAGED = "damaged"


# Nothing of these is written to the log: nobody did anything wrong, and the log may be unwritable.
NOT_LOGGED = frozenset({Category.BUSY, Category.UNAVAILABLE})


class GatewayError(Exception):
    """A refused or failed operation, reported to the person (exit code 1 at the command line)."""

    category: Category = Category.INVALID

    def __init__(self, ja: str, en: str, *, kinds: Iterable[Kind] = (), detail: str | None = None) -> None:
        super().__init__(f"{ja}\n{en}")
        self.ja = ja
        self.en = en
        self.kinds: tuple[Kind, ...] = tuple(dict.fromkeys(Kind(k) for k in kinds))
        # What the log records beyond what the person is told: a failed login says the same to
        # everyone (no account enumeration), while the officer reads which check failed. Never a secret.
        self.detail = detail
        # Set by the one path that logs refusals (operations.attempt), so that an attempt inside
        # another does not log the same refusal twice.
        self.logged = False

    @property
    def kind(self) -> Kind | None:
        """The first finding kind, for answers that name one (`{"error": kind}`)."""
        return self.kinds[0] if self.kinds else None

    def __str__(self) -> str:
        return f"{self.ja}\n{self.en}"

    def to_json(self) -> dict[str, object]:
        """The answer of `--json` commands and the portal's API: the same keys everywhere."""
        return {"error": self.kind or self.category.value, "category": self.category.value,
                "kinds": list(self.kinds), "ja": self.ja, "en": self.en}


class Invalid(GatewayError):
    category = Category.INVALID


class Unauthenticated(GatewayError):
    category = Category.UNAUTHENTICATED


class Forbidden(GatewayError):
    category = Category.FORBIDDEN


class NotFound(GatewayError):
    category = Category.NOT_FOUND


class Conflict(GatewayError):
    category = Category.CONFLICT


class Gone(GatewayError):
    category = Category.GONE


class TooLarge(GatewayError):
    category = Category.TOO_LARGE


class Busy(GatewayError):
    category = Category.BUSY


class Unavailable(GatewayError):
    category = Category.UNAVAILABLE


class Damaged(GatewayError):
    category = Category.DAMAGED


@dataclass(frozen=True)
class Refusal:
    """One reason a decision refuses: a finding kind when the rule is one of the council's, else None
    (e.g. a role that may not send at all)."""

    kind: Kind | None
    ja: str
    en: str


class Refused(GatewayError):
    """A decision refused, with every reason at once: people fix a file once, not once per reason."""

    category = Category.REFUSED

    def __init__(self, refusals: Iterable[Refusal]) -> None:
        self.refusals = tuple(refusals)
        if not self.refusals:
            raise ValueError("a refusal needs at least one reason")
        super().__init__(
            "\n".join(f"[{r.kind}] {r.ja}" if r.kind else r.ja for r in self.refusals),
            "\n".join(f"[{r.kind}] {r.en}" if r.kind else r.en for r in self.refusals),
            kinds=[r.kind for r in self.refusals if r.kind],
        )

    @classmethod
    def one(cls, kind: Kind | None, ja: str, en: str) -> Refused:
        return cls([Refusal(kind, ja, en)])

    def to_json(self) -> dict[str, object]:
        return {**super().to_json(),
                "refusals": [{"kind": r.kind, "ja": r.ja, "en": r.en} for r in self.refusals]}


_BY_CATEGORY: dict[Category, type[GatewayError]] = {
    cls.category: cls for cls in (Invalid, Unauthenticated, Forbidden, NotFound, Conflict, Gone, TooLarge, Busy,
                                  Unavailable, Damaged)
}


def error_from_json(data: object, *, fallback_ja: str, fallback_en: str) -> GatewayError:
    """The error a `--json` command or the portal's API answered with, as the client reads it back
    (the simulator, a contractor's client): the same category, kinds and reasons, never parsed from text."""
    body = data if isinstance(data, dict) else {}
    ja, en = str(body.get("ja") or fallback_ja), str(body.get("en") or fallback_en)
    kinds = [k for k in body.get("kinds") or () if k in Kind._value2member_map_]
    try:
        category = Category(str(body.get("category")))
    except ValueError:
        category = Category.INVALID
    if category is Category.REFUSED:
        refusals = [Refusal(Kind(r["kind"]) if r.get("kind") in Kind._value2member_map_ else None,
                            str(r.get("ja") or ja), str(r.get("en") or en))
                    for r in body.get("refusals") or () if isinstance(r, dict)]
        return Refused(refusals or [Refusal(Kind(kinds[0]) if kinds else None, ja, en)])
    return _BY_CATEGORY[category](ja, en, kinds=[Kind(k) for k in kinds])
