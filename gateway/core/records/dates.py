"""Dates as Japanese core systems export them: ISO, slashes, and wareki (和暦) with era names or letters.

Accepted, after NFKC (so full-width digits and the ㍼-style era ligatures work):
``1975-01-01``, ``1975/1/1``, ``1975.01.01``, ``19750101``, ``1975年1月1日``,
``昭和50年1月1日``, ``昭50.1.1``, ``S50.01.01``, ``s50-1-1``, ``R2.5.1``; year 1 of an era may be
written 元 (``平成元年1月8日``, ``H元.1.8``).

A wareki date must fall inside its era: 昭和64年1月7日 exists, 昭和64年1月8日 does not (Heisei began
that day). Errors never carry the value: callers put messages in logs.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

# Era letter -> (kanji name, first day). The last day of an era is the day before the next one's first.
ERAS: dict[str, tuple[str, date]] = {
    "M": ("明治", date(1868, 10, 23)),
    "T": ("大正", date(1912, 7, 30)),
    "S": ("昭和", date(1926, 12, 25)),
    "H": ("平成", date(1989, 1, 8)),
    "R": ("令和", date(2019, 5, 1)),
}
_ORDER = list(ERAS)
_END: dict[str, date | None] = {
    letter: (ERAS[_ORDER[i + 1]][1] if i + 1 < len(_ORDER) else None) for i, letter in enumerate(_ORDER)
}
_BY_NAME = {name: letter for letter, (name, _) in ERAS.items()}
_BY_NAME.update({name[0]: letter for letter, (name, _) in ERAS.items()})  # 昭.50.1.1 style abbreviations

EXPECTED_JA = "日付として読めません（例: 1975-01-01, 昭和50年1月1日, S50.01.01, R2.5.1。存在しない日付・元号の範囲外の日付は使えません）"
EXPECTED_EN = ("not a date (expected e.g. 1975-01-01, 昭和50年1月1日, S50.01.01 or R2.5.1; "
               "impossible dates and dates outside their era are refused)")

_SEP = r"[-/.]"
_WESTERN = re.compile(rf"(\d{{4}}){_SEP}(\d{{1,2}}){_SEP}(\d{{1,2}})|(\d{{4}})年(\d{{1,2}})月(\d{{1,2}})日|(\d{{4}})(\d{{2}})(\d{{2}})")
_ERA_NAMES = "|".join(sorted(_BY_NAME, key=len, reverse=True))
_WAREKI = re.compile(
    rf"(?:({_ERA_NAMES})|([MTSHRmtshr]))(元|\d{{1,2}})"
    rf"(?:年(\d{{1,2}})月(\d{{1,2}})日|{_SEP}(\d{{1,2}}){_SEP}(\d{{1,2}}))"
)


class DateError(ValueError):
    """Not a date; the message is fixed text, never the value."""


def parse_date(text: str) -> date:
    """The date ``text`` stands for, or DateError."""
    # Fast path for what most exports hold: 1975-01-01 / 1975/01/01, already ASCII.
    if len(text) == 10 and text.isascii():
        sep = text[4]
        if sep in "-/" and text[7] == sep:
            y, m, d = text[:4], text[5:7], text[8:]
            if y.isdigit() and m.isdigit() and d.isdigit():
                try:
                    return date(int(y), int(m), int(d))
                except ValueError:
                    raise DateError("impossible date") from None
    s = text if text.isascii() else unicodedata.normalize("NFKC", text)
    s = "".join(s.split())
    found = _WESTERN.fullmatch(s)
    if found is not None:
        g = [x for x in found.groups() if x is not None]
        return _make(int(g[0]), int(g[1]), int(g[2]))
    found = _WAREKI.fullmatch(s)
    if found is not None:
        name, letter, year, m1, d1, m2, d2 = found.groups()
        era = _BY_NAME[name] if name else letter.upper()
        n = 1 if year == "元" else int(year)
        if n < 1:
            raise DateError("era year 0")
        start = ERAS[era][1]
        result = _make(start.year + n - 1, int(m1 or m2), int(d1 or d2))
        end = _END[era]
        if result < start or (end is not None and result >= end):
            raise DateError("outside its era")
        return result
    raise DateError("not a date")


def _make(y: int, m: int, d: int) -> date:
    try:
        return date(y, m, d)
    except ValueError:
        raise DateError("impossible date") from None


def to_wareki(d: date, style: str = "kanji") -> str:
    """``d`` in wareki: style "kanji" (昭和50年1月1日), "letter" (S50.01.01) or "short" (S50.1.1)."""
    for letter in reversed(_ORDER):
        name, start = ERAS[letter]
        if d >= start:
            n = d.year - start.year + 1
            if style == "kanji":
                return f"{name}{'元' if n == 1 else n}年{d.month}月{d.day}日"
            if style == "letter":
                return f"{letter}{n:02d}.{d.month:02d}.{d.day:02d}"
            return f"{letter}{n}.{d.month}.{d.day}"
    raise ValueError("before the Meiji era")


_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February: 29 only via parse_date


def _month_day(sep: str, end: str = "", padded: bool = True) -> str:
    """Any month and day that exists in every year (no 29 February)."""
    z = "0" if padded else "0?"
    return (
        f"(?:(?:{z}[1-9]|1[0-2]){sep}(?:{z}[1-9]|1[0-9]|2[0-8])"
        f"|(?:{z}[13-9]|1[0-2]){sep}(?:29|30)"
        f"|(?:{z}[13578]|1[02]){sep}31){end}"
    )


def _numbers(lo: int, hi: int, z: str) -> str:
    """The integers ``lo`` to ``hi`` (1 to 99) as a regex alternation, two digits before one (31
    before 3), with ``z`` before a one-digit number. In character classes rather than spelled out
    number by number: every process compiles the line regex these end up in, and the spelled-out
    form took 38 ms of each send's and each receive's start."""
    def digits(a: int, b: int) -> str:
        return str(a) if a == b else f"[{a}-{b}]"

    tens = [(t, max(lo, 10 * t) % 10, min(hi, 10 * t + 9) % 10)
            for t in range(hi // 10, 0, -1) if max(lo, 10 * t) <= min(hi, 10 * t + 9)]
    parts: list[str] = []
    run: list[int] = []  # consecutive decades taken whole, joined as [a-b][0-9]
    for t, a, b in tens:
        if (a, b) == (0, 9) and (not run or run[-1] == t + 1):
            run.append(t)
            continue
        if run:
            parts.append(f"{digits(run[-1], run[0])}[0-9]")
            run = []
        if (a, b) == (0, 9):
            run.append(t)
        else:
            parts.append(f"{t}{digits(a, b)}")
    if run:
        parts.append(f"{digits(run[-1], run[0])}[0-9]")
    if lo <= 9:
        parts.append(f"{z}{digits(lo, min(hi, 9))}")
    return "|".join(parts)


def _month_day_range(first: date, last: date, sep: str, end: str, padded: bool) -> str:
    """Month and day from ``first`` to ``last`` (same year), month by month."""
    z = "0" if padded else "0?"
    months = []
    for m in range(first.month, last.month + 1):
        lo = first.day if m == first.month else 1
        hi = last.day if m == last.month else _DAYS_IN_MONTH[m]
        month = f"{z}{m}" if m < 10 else str(m)
        months.append(f"{month}{sep}(?:{_numbers(lo, hi, z)})")
    return f"(?:{'|'.join(reversed(months))}){end}"


def _fast_pattern() -> str:
    """A regex that only matches dates ``parse_date`` accepts, cheap enough to run over whole blocks.

    The common case comes first and is compact: years lying wholly inside their era, any month and
    day that exists in every year. The first and last year of each era are spelled out day by day;
    29 February only in ISO form. Other spellings go to ``parse_date`` itself.
    """
    iso_years = "(?:1[89]|20)[0-9]{2}"
    leap_years = "(?:1[89](?:0[48]|[2468][048]|[13579][26])|20(?:[02468][048]|[13579][26]))"
    forms = [f"{iso_years}-{_month_day('-')}", f"{iso_years}/{_month_day('/')}",
             f"{leap_years}-02-29", f"{leap_years}/02/29"]
    dot = r"\."
    for letter in _ORDER:
        name, start = ERAS[letter]
        end = _END[letter]
        last_year = (end.year - start.year + 1) if end is not None else 99
        full = _numbers(2, last_year - 1, "0?")
        spans: list[tuple[str, date | None, date | None]] = [(f"(?:{full})", None, None)]
        spans.append(("(?:元|0?1)", start, date(start.year, 12, 31)))
        if end is not None:
            last = end - timedelta(days=1)
            spans.append((str(last_year), date(last.year, 1, 1), last))
        for years, first, final in spans:
            if first is None or final is None:
                kanji_md = _month_day("月", "日", padded=False)
                letter_md = _month_day(dot, padded=False)
            else:
                kanji_md = _month_day_range(first, final, "月", "日", padded=False)
                letter_md = _month_day_range(first, final, dot, "", padded=False)
            forms.append(f"{name}{years}年{kanji_md}")
            forms.append(f"{letter}{years}{dot}{letter_md}")
    return "|".join(forms)


#: Matches (whole cell) only dates parse_date accepts; see _fast_pattern.
FAST_PATTERN = _fast_pattern()
