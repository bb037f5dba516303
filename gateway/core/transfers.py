"""The life of one transfer: which event may happen in which state.

Courier packages are confirmed without a download from the gateway (they travel on media), so a
receipt may follow `sent` directly. Nothing follows `erased`: the gateway's copy is gone.
"""
from __future__ import annotations

from gateway.errors import Conflict

TRANSITIONS: dict[str, dict[str, str]] = {
    "sent": {"download": "downloaded", "receipt-match": "received", "receipt-mismatch": "receipt-mismatch",
             "erase": "erased"},
    "downloaded": {"download": "downloaded", "receipt-match": "received", "receipt-mismatch": "receipt-mismatch",
                   "erase": "erased"},
    "receipt-mismatch": {"download": "receipt-mismatch", "receipt-match": "received",
                         "receipt-mismatch": "receipt-mismatch", "erase": "erased"},
    "received": {"download": "received", "erase": "erased"},
    "erased": {},
}
STATES = tuple(TRANSITIONS)


def next_state(state: str, event: str) -> str:
    try:
        return TRANSITIONS[state][event]
    except KeyError:
        raise Conflict(
            f"この受け渡しは現在「{state}」のため、この操作（{event}）はできません。",
            f"the transfer is '{state}'; '{event}' is not possible now.",
        ) from None
