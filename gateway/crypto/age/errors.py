"""Failure categories of age decryption.

They mirror the `expect:` categories of the C2SP test vectors so callers (and tests) can tell a
malformed file from a wrong key from a damaged payload. Messages name what failed and never
carry key material or passphrases.
"""
from __future__ import annotations


class AgeError(Exception):
    """Any failure to read or write an age file."""


class HeaderError(AgeError):
    """The header does not parse, or a stanza of a type we handle is malformed."""


class WorkFactorTooHigh(HeaderError):
    """An scrypt stanza asks for more work than we allow; refused before any work is done."""


class NoMatchError(AgeError):
    """The header is well formed but no identity opens any stanza (e.g. a wrong passphrase)."""


class HmacError(AgeError):
    """A file key was found but the header MAC does not match: the header was altered."""


class PayloadError(AgeError):
    """The encrypted payload is damaged, truncated, reordered or extended."""
