"""Errors a person can cause and act on.

Every message is bilingual, Japanese first, English second, and says what was wrong and what to do.
Messages never carry secrets (passphrases, keys, personal data from a recipient file).
"""
from __future__ import annotations


class GatewayError(Exception):
    """A refused or failed operation, reported to the person with exit code 1."""

    def __init__(self, ja: str, en: str, *, kind: str | None = None) -> None:
        super().__init__(f"{ja}\n{en}")
        self.ja = ja
        self.en = en
        # A finding kind of INTERFACE.md when the refusal is one (e.g. "unapproved-field").
        self.kind = kind

    def __str__(self) -> str:
        return f"{self.ja}\n{self.en}"
