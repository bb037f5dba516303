"""Value pools drawn once from Faker ja_JP: Faker costs tens of microseconds a call, so the row loop
only combines pooled values with ``random.Random`` and stays fast at 300,000+ rows."""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from faker import Faker

from gateway.synthetic.kana import to_half_width_kana

NamePair = tuple[str, str]  # (kanji, katakana)


@dataclass(frozen=True)
class Town:
    name: str
    postal_code: str  # 123-4567
    chome: int  # number of 丁目


@dataclass(frozen=True)
class Pools:
    last_names: tuple[NamePair, ...]
    male_names: tuple[NamePair, ...]
    female_names: tuple[NamePair, ...]
    towns: tuple[Town, ...]
    buildings: tuple[str, ...]
    banks: tuple[str, ...]  # "0123 ○○銀行"
    branches: tuple[str, ...]  # "045 ○○支店"


def _encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _holder_ok(kana: str) -> bool:
    """The half-width form must be something a bank accepts (no stray symbols)."""
    half = to_half_width_kana(kana)
    return all("ｦ" <= c <= "ﾟ" or c == " " for c in half)


def _draw(fake: Faker, fn: str, n: int, keep: Callable[[Any], bool]) -> list[Any]:
    out: dict[Any, None] = {}  # ordered and deduplicated: determinism needs a stable order
    for _ in range(n):
        value = getattr(fake, fn)()
        if keep(value):
            out[value] = None
    return list(out)


def build_pools(seed: int, city_postal_prefixes: tuple[str, ...], encoding: str = "cp932") -> Pools:
    """Pools for one city; every value encodes in ``encoding`` (CP932 lacks some of Faker's characters)."""
    fake = Faker("ja_JP")
    fake.seed_instance(seed)
    rng = random.Random(seed ^ 0x5EED)

    def pair_ok(p: Any) -> bool:
        kanji, kana = p[0], p[1]
        return _encodable(kanji, "cp932") and _encodable(kana, "cp932") and _holder_ok(kana)

    lasts = [(p[0], p[1]) for p in _draw(fake, "last_name_pair", 3000, pair_ok)]
    males = [(p[0], p[1]) for p in _draw(fake, "first_name_male_pair", 3000, pair_ok)]
    females = [(p[0], p[1]) for p in _draw(fake, "first_name_female_pair", 3000, pair_ok)]
    town_names = _draw(fake, "town", 600, lambda t: _encodable(str(t), "cp932"))
    used_postal: set[str] = set()
    towns = []
    for name in town_names:
        while True:
            postal = f"{rng.choice(city_postal_prefixes)}-{rng.randrange(10000):04d}"
            if postal not in used_postal:
                used_postal.add(postal)
                break
        towns.append(Town(str(name), postal, rng.randint(1, 9)))
    buildings = _draw(fake, "building_name", 400, lambda b: _encodable(str(b), "cp932"))
    suffixes = ("銀行", "信用金庫", "信用組合", "農業協同組合")
    bank_codes = rng.sample(range(1, 10000), 16)
    banks = [f"{code:04d} {rng.choice(town_names)}{rng.choice(suffixes)}" for code in bank_codes]
    branch_codes = rng.sample(range(1, 1000), 240)
    branches = [f"{code:03d} {rng.choice(town_names)}支店" for code in branch_codes]
    return Pools(
        last_names=tuple(lasts),
        male_names=tuple(males),
        female_names=tuple(females),
        towns=tuple(towns),
        buildings=tuple(str(b) for b in buildings),
        banks=tuple(banks),
        branches=tuple(branches),
    )
