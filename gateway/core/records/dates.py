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
from datetime import date

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
    m = _WESTERN.fullmatch(s)
    if m is not None:
        g = [x for x in m.groups() if x is not None]
        return _make(int(g[0]), int(g[1]), int(g[2]))
    m = _WAREKI.fullmatch(s)
    if m is not None:
        name, letter, year, m1, d1, m2, d2 = m.groups()
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


def _fast_pattern() -> str:
    """A regex that only matches dates ``parse_date`` accepts, cheap enough to run over whole blocks.

    It leaves out what needs arithmetic (29 February, the first and last year of an era) and
    rarer spellings; those go to ``parse_date`` itself.
    """
    def month_day(sep: str, end: str = "", padded: bool = True) -> str:
        z = "0" if padded else "0?"
        return (
            f"(?:(?:{z}[1-9]|1[0-2]){sep}(?:{z}[1-9]|1[0-9]|2[0-8])"
            f"|(?:{z}[13-9]|1[0-2]){sep}(?:29|30)"
            f"|(?:{z}[13578]|1[02]){sep}31){end}"
        )

    # Era years lying wholly inside the era: 2 .. last full year.
    years = {
        "M": "(?:0?[2-9]|[1-3][0-9]|4[0-4])",
        "T": "(?:0?[2-9]|1[0-4])",
        "S": "(?:0?[2-9]|[1-5][0-9]|6[0-3])",
        "H": "(?:0?[2-9]|[12][0-9]|30)",
        "R": "(?:0?[2-9]|[1-9][0-9])",
    }
    iso = "(?:1[89]|20)[0-9]{2}"
    kanji = "|".join(f"{ERAS[e][0]}{y}" for e, y in years.items())
    letter = "|".join(f"{e}{y}" for e, y in years.items())
    dot = r"\."
    return (
        f"{iso}-{month_day('-')}|{iso}/{month_day('/')}"
        f"|(?:{kanji})年{month_day('月', '日', padded=False)}"
        f"|(?:{letter}){dot}{month_day(dot, padded=False)}"
    )


#: Matches (whole cell) only dates parse_date accepts; see _fast_pattern.
FAST_PATTERN = _fast_pattern()
