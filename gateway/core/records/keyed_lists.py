"""Exclusion lists the city holds apart from the export, matched by a keyed hash.

Shinjuku 2020 (seed 003) keeps DV support-measure persons and persons placed in facilities in
separate lists, not as a column of the core system's export: 「児童福祉施設等に入所している児童、
虐待を受けたことにより施設等に入所している障害者及び高齢者、配偶者からの暴力を理由に避難している方の
情報については…申請書の発送等の業務を委託せずに区が行う」. The gateway screens a file against such
a list by 宛名番号 or 住民番号 without holding the list: it keeps only HMAC-SHA256 of each
normalised number under a key the city's installation holds, so neither the list nor a number from
it is ever written in clear, logged, exported or sent.
"""
from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

KEY_FIELDS = ("addressee_code", "resident_number")


def normalise(number: str) -> str:
    """Full-width digits and spaces as the core systems write them: 「０１２３」 is 0123."""
    return "".join(unicodedata.normalize("NFKC", number).split())


def key_id(key: bytes) -> str:
    """A name for the list key that says nothing about it: which key a stored list was made
    under, so that a node holding another one refuses to screen rather than matching no one."""
    return hmac.new(key, b"gateway exclusion-list key id v1", hashlib.sha256).hexdigest()[:16]


def digest(key: bytes, number: str) -> str:
    return hmac.new(key, normalise(number).encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class KeyedList:
    population: str
    key_field: str  # addressee_code | resident_number
    digests: frozenset[str]


class Matcher:
    """Which excluded population a row belongs to by the lists, if any."""

    def __init__(self, key: bytes, lists: Iterable[KeyedList], columns: tuple[str, ...]) -> None:
        self._key = key
        self._lists = [(columns.index(k.key_field), k) for k in lists]

    def population(self, row: list[str]) -> str | None:
        for index, listed in self._lists:
            if digest(self._key, row[index]) in listed.digests:
                return listed.population
        return None


def missing_key_fields(lists: Iterable[KeyedList], columns: Iterable[str]) -> list[str]:
    present = set(columns)
    return sorted({k.key_field for k in lists if k.key_field not in present})


def counts(found: Mapping[str, int]) -> dict[str, int]:
    return {p: n for p, n in sorted(found.items()) if n}
