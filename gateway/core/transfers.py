"""The life of one transfer: which event may happen in which state.

Courier packages are confirmed without a download from the gateway (they travel on media), so a
receipt may follow `sent` directly. Nothing follows `erased` or `rejected`: the gateway's copy is gone.
"""
from __future__ import annotations

from gateway.errors import Conflict, Gone, Refused
from gateway.findings import Kind

TRANSITIONS: dict[str, dict[str, str]] = {
    # Held for a second person's check (core/second_check.py): nothing leaves before it is approved;
    # a rejected send is crypto-erased at once.
    "pending-check": {"check-approve": "sent", "check-reject": "rejected", "erase": "erased", "recall": "recalled"},
    "rejected": {},
    # Recalled before anyone downloaded it: erased at once, and the contractor no longer sees it.
    "recalled": {},
    "sent": {"recall": "recalled", "download": "downloaded", "receipt-match": "received", "receipt-mismatch": "receipt-mismatch",
             "erase": "erased"},
    "downloaded": {"recall": "erased", "download": "downloaded", "receipt-match": "received", "receipt-mismatch": "receipt-mismatch",
                   "erase": "erased"},
    "receipt-mismatch": {"recall": "erased", "download": "receipt-mismatch", "receipt-match": "received",
                         "receipt-mismatch": "receipt-mismatch", "erase": "erased"},
    "received": {"recall": "erased", "download": "received", "erase": "erased"},
    "erased": {},
}
STATES = tuple(TRANSITIONS)
# Never released: the contractor does not see them, and nothing of them may leave.
HELD = ("pending-check", "rejected", "recalled")


def refuse_if_held(state: str) -> None:
    """Refuse anything that would release a send still waiting for its second check (or rejected
    at it): that release would be one without the check."""
    if state == "recalled":
        raise Gone("この受け渡しは市が回収し、消去しました。", "the city recalled this transfer; it was erased.",
                   kinds=[Kind.ACCESS_AFTER_DELETION])
    if state in HELD:
        raise Refused.one(
            Kind.SECOND_CHECK_MISSING,
            "この送付は二重確認（上長承認）が済んでいないため、データもパスワード通知も出せません。確認者の承認を待ってください。",
            "this send has not passed its second person's check: nothing of it may leave; wait for an approver.")


def next_state(state: str, event: str) -> str:
    try:
        return TRANSITIONS[state][event]
    except KeyError:
        raise Conflict(
            f"この受け渡しは現在「{state}」のため、この操作（{event}）はできません。",
            f"the transfer is '{state}'; '{event}' is not possible now.",
        ) from None
