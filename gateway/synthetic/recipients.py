"""Synthetic recipient files shaped like the Kurume 2020 and Shinjuku 2020 exports. Never real people.

Persons come in households (a head first, then members sharing the household code, address and
the head's name, with consistent 続柄 and ages), about 1.6 persons per household as in Shinjuku's
350,000 persons / 220,000 households. The same arguments always give a byte-identical file.
"""
from __future__ import annotations

import csv
import io
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import cast

from gateway.core.records.dates import to_wareki
from gateway.core.records.fields import EXCLUDED_POPULATIONS, EXCLUSION_HEADER, SCHEMAS
from gateway.core.records.streams import HashingWriter
from gateway.fsutil import atomic_output
from gateway.synthetic.kana import to_half_width_kana
from gateway.synthetic.pools import NamePair, Pools, Town, build_pools

# The residents' register date of the 2020 special cash payment (基準日).
BASE_DATE = date(2020, 4, 27)

_CITIES = {
    "kurume-2020": ("福岡県久留米市", ("830", "839")),
    "shinjuku-2020": ("東京都新宿区", ("160", "161", "162", "169")),
}
# Household sizes 1..6, weighted to give about 1.6 persons per household.
_SIZES = (1, 2, 3, 4, 5, 6)
_SIZE_WEIGHTS = (64, 21, 8, 4, 2, 1)
_EXCLUSION_LABELS = tuple(EXCLUDED_POPULATIONS.values())
_BLOCK = 4096


@dataclass(frozen=True)
class Person:
    last: NamePair
    first: NamePair
    sex: str  # 男 / 女
    born: date
    relationship: str


@dataclass(frozen=True)
class Household:
    code: int
    members: tuple[Person, ...]  # the head first
    town: Town
    address: str
    extra: str  # 方書: building and room, or ""
    phone: str


@dataclass(frozen=True)
class Generated:
    path: str
    schema: str
    encoding: str
    rows: int
    households: int
    sha256: str
    size_bytes: int


def generate_recipients(
    path: str | os.PathLike[str],
    *,
    count: int,
    schema: str = "kurume-2020",
    encoding: str = "cp932",
    seed: int = 0,
    excluded_rate: float = 0.0,
) -> Generated:
    """Write ``count`` synthetic persons to ``path`` atomically (CSV with CRLF, like Windows exports)."""
    if schema not in SCHEMAS:
        raise ValueError(f"unknown schema {schema!r}")
    if not 0.0 <= excluded_rate <= 1.0:
        raise ValueError("excluded_rate must be between 0 and 1")
    city, prefixes = _CITIES[schema]
    pools = build_pools(seed, prefixes)
    rng = random.Random(seed)
    header = list(SCHEMAS[schema])
    if excluded_rate > 0:
        header.append(EXCLUSION_HEADER)
    row_of = _kurume_rows if schema == "kurume-2020" else _shinjuku_rows
    gaiji = encoding.replace("_", "-").lower().startswith("utf")
    rows = households = 0
    with atomic_output(path) as raw:
        sink = HashingWriter(raw)
        buffered = io.BufferedWriter(cast(io.RawIOBase, sink), 1 << 16)
        text = io.TextIOWrapper(buffered, encoding=encoding, errors="strict", newline="")
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(header)
        block: list[list[str]] = []
        for household in _households(rng, pools, city, count):
            households += 1
            for row in row_of(rng, pools, household, gaiji):
                if excluded_rate > 0:
                    row.append(rng.choice(_EXCLUSION_LABELS) if rng.random() < excluded_rate else "")
                block.append(row)
            if len(block) >= _BLOCK:
                writer.writerows(block)
                rows += len(block)
                block.clear()
        writer.writerows(block)
        rows += len(block)
        text.flush()
        text.detach()
        buffered.flush()
    return Generated(os.fspath(path), schema, encoding, rows, households, sink.sha256.hexdigest(), sink.size)


def _households(rng: random.Random, pools: Pools, city: str, count: int) -> Iterator[Household]:
    """Households until ``count`` persons; the last one is cut short if needed (its head stays first)."""
    left = count
    code = 100_000 + rng.randrange(100_000)
    while left > 0:
        code += rng.randint(1, 3)
        size = min(left, rng.choices(_SIZES, _SIZE_WEIGHTS)[0])
        left -= size
        town = rng.choice(pools.towns)
        address = f"{city}{town.name}{rng.randint(1, town.chome)}丁目{rng.randint(1, 30)}番{rng.randint(1, 25)}号"
        extra = f"{rng.choice(pools.buildings)}{rng.randint(1, 12)}{rng.randint(1, 20):02d}号室" if rng.random() < 0.4 else ""
        phone = _phone(rng) if rng.random() < 0.6 else ""
        yield Household(code, tuple(_members(rng, pools, size)), town, address, extra, phone)


def _phone(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"0{rng.choice((70, 80, 90))}-{rng.randrange(10000):04d}-{rng.randrange(10000):04d}"
    return f"0942-{rng.randint(30, 49)}-{rng.randrange(10000):04d}"


def _born(rng: random.Random, age_from: int, age_to: int) -> date:
    """A birth date giving an age in [age_from, age_to] on BASE_DATE (never after it)."""
    lo = max(0, age_from) * 365 + 1
    hi = max(lo, age_to * 365 + 364)
    return BASE_DATE - timedelta(days=rng.randint(lo, hi))


def _age(born: date) -> int:
    return BASE_DATE.year - born.year - ((BASE_DATE.month, BASE_DATE.day) < (born.month, born.day))


def _first(rng: random.Random, pools: Pools, sex: str) -> NamePair:
    return rng.choice(pools.male_names if sex == "男" else pools.female_names)


def _members(rng: random.Random, pools: Pools, size: int) -> Iterator[Person]:
    last = rng.choice(pools.last_names)
    head_sex = "男" if rng.random() < 0.7 else "女"
    head_age = rng.randint(19, 95) if size == 1 else rng.randint(24, 90)
    head = Person(last, _first(rng, pools, head_sex), head_sex, _born(rng, head_age, head_age), "世帯主")
    yield head
    left = size - 1
    if left and rng.random() < 0.8:
        sex = "女" if head_sex == "男" else "男"
        age = max(18, head_age + rng.randint(-6, 6))
        yield Person(last, _first(rng, pools, sex), sex, _born(rng, age, age), "妻" if sex == "女" else "夫")
        left -= 1
    if left and head_age < 60 and rng.random() < 0.15:
        sex = rng.choice("男女")
        age = head_age + rng.randint(25, 35)
        yield Person(last, _first(rng, pools, sex), sex, _born(rng, age, age), "父" if sex == "男" else "母")
        left -= 1
    for _ in range(left):
        if head_age >= 65 and rng.random() < 0.3:
            sex = rng.choice("男女")
            age = max(0, head_age - rng.randint(50, 65))
            yield Person(last, _first(rng, pools, sex), sex, _born(rng, age, age), "孫")
            continue
        sex = rng.choice("男女")
        age = max(0, head_age - rng.randint(22, 40))
        yield Person(last, _first(rng, pools, sex), sex, _born(rng, age, age), "子")


def _kanji(p: Person, gaiji: bool, rng: random.Random) -> str:
    last = p.last[0]
    # UTF-8 exports carry characters outside JIS X 0208 (外字); CP932 files cannot.
    if gaiji and "吉" in last and rng.random() < 0.3:
        last = last.replace("吉", "\U00020bb7")
    return f"{last}\u3000{p.first[0]}"


def _kana(p: Person) -> str:
    return f"{p.last[1]}\u3000{p.first[1]}"


def _date_text(rng: random.Random, d: date) -> str:
    """Mostly ISO, with the other forms core systems export mixed in deterministically."""
    r = rng.random()
    if r < 0.85:
        return d.isoformat()
    if r < 0.90:
        return d.strftime("%Y/%m/%d")
    if r < 0.95:
        return to_wareki(d, "kanji")
    if r < 0.98:
        return to_wareki(d, "letter")
    return to_wareki(d, "short")


def _kurume_rows(rng: random.Random, pools: Pools, h: Household, gaiji: bool) -> Iterator[list[str]]:
    head_name = _kanji(h.members[0], gaiji, rng)
    addressee = h.code * 10
    for i, p in enumerate(h.members):
        name = head_name if i == 0 else _kanji(p, gaiji, rng)
        if i == 0 and rng.random() < 0.85:
            # The payment goes to the head's account: bank fields only on the head's row.
            account = [
                rng.choice(pools.banks), rng.choice(pools.branches),
                "普通" if rng.random() < 0.92 else rng.choice(("当座", "貯蓄")),
                f"{rng.randrange(10_000_000):07d}", to_half_width_kana(_kana(p)),
            ]
        else:
            account = ["", "", "", "", ""]
        yield [
            name, _date_text(rng, p.born), p.sex, h.address + (f" {h.extra}" if h.extra else ""),
            h.town.postal_code, h.phone, head_name, f"{addressee + i:010d}", f"{h.code:010d}", *account,
        ]


def _shinjuku_rows(rng: random.Random, pools: Pools, h: Household, gaiji: bool) -> Iterator[list[str]]:
    head_name = _kanji(h.members[0], gaiji, rng)
    for i, p in enumerate(h.members):
        name = head_name if i == 0 else _kanji(p, gaiji, rng)
        yield [
            f"{h.code * 10 + i:08d}", _kana(p), name, p.relationship, _date_text(rng, p.born),
            h.town.postal_code, h.address, f"{h.code:08d}", head_name, h.extra,
        ]
