"""Dates as core systems write them: ISO, slashes, wareki with era names, letters and 元年."""
import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.records.dates import FAST_PATTERN, DateError, _numbers, parse_date, to_wareki


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1975-01-01", date(1975, 1, 1)),
        ("1975/01/01", date(1975, 1, 1)),
        ("1975/1/1", date(1975, 1, 1)),
        ("19750101", date(1975, 1, 1)),
        ("1975年1月1日", date(1975, 1, 1)),
        ("１９７５－０１－０１", date(1975, 1, 1)),  # full-width, as some exports pad
        ("昭和50年1月1日", date(1975, 1, 1)),
        ("昭和５０年１月１日", date(1975, 1, 1)),
        ("昭和 50年 1月 1日", date(1975, 1, 1)),
        ("S50.01.01", date(1975, 1, 1)),
        ("s50.1.1", date(1975, 1, 1)),
        ("昭50.1.1", date(1975, 1, 1)),
        ("㍼50年1月1日", date(1975, 1, 1)),
        ("R2.5.1", date(2020, 5, 1)),
        ("令和2年5月1日", date(2020, 5, 1)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("H元.1.8", date(1989, 1, 8)),
        ("H1.01.08", date(1989, 1, 8)),
        ("昭和64年1月7日", date(1989, 1, 7)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("平成31年4月30日", date(2019, 4, 30)),
        ("明治1年10月23日", date(1868, 10, 23)),
        ("大正元年7月30日", date(1912, 7, 30)),
        ("明治45年7月29日", date(1912, 7, 29)),
        ("昭和元年12月25日", date(1926, 12, 25)),
        ("大正15年12月24日", date(1926, 12, 24)),
        ("2000-02-29", date(2000, 2, 29)),
    ],
)
def test_accepted(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "昭和64年1月8日",  # Heisei began that day
        "平成31年5月1日",  # Reiwa began that day
        "平成元年1月7日",  # still Showa
        "令和元年4月30日",
        "明治1年10月22日",
        "大正元年7月29日",
        "昭和元年12月24日",
        "昭和0年1月1日",
        "1975-02-30",
        "1900-02-29",  # not a leap year
        "S50.13.01",
        "X50.01.01",
        "1975-1-1x",
        "",
        "不明",
        "1975",
        "1975-W01-1",  # ISO week dates are not what core systems export
    ],
)
def test_refused(text):
    with pytest.raises(DateError) as err:
        parse_date(text)
    assert text == "" or text not in str(err.value)  # the value never reaches the message


@given(st.dates(min_value=date(1868, 10, 23), max_value=date(2099, 12, 31)), st.sampled_from(["kanji", "letter", "short"]))
def test_wareki_round_trip(d, style):
    assert parse_date(to_wareki(d, style)) == d
    assert parse_date(d.isoformat()) == d


_FAST = re.compile(FAST_PATTERN)


@settings(max_examples=400)
@given(st.dates(min_value=date(1800, 1, 1), max_value=date(2099, 12, 31)),
       st.sampled_from(["iso", "slash", "kanji", "letter", "short"]))
def test_fast_pattern_matches_only_valid_dates(d, style):
    text = {"iso": d.isoformat(), "slash": d.strftime("%Y/%m/%d")}.get(style)
    if text is None:
        if d < date(1868, 10, 23):
            return
        text = to_wareki(d, style)
    if _FAST.fullmatch(text):
        assert parse_date(text) == d


@given(st.text(alphabet="0123456789-/.年月日元昭和平成令和大正明治MTSHR", max_size=14))
def test_fast_pattern_never_accepts_what_parse_refuses(text):
    if _FAST.fullmatch(text):
        parse_date(text)  # must not raise


@pytest.mark.parametrize("hi", [1, 9, 10, 19, 28, 29, 30, 31, 44, 63, 98, 99])
def test_the_fast_patterns_number_ranges_take_exactly_their_numbers(hi):
    for lo in range(1, hi + 1):
        for z in ("0", "0?"):
            pattern = re.compile(f"(?:{_numbers(lo, hi, z)})")
            for n in range(100):
                for text in {str(n), f"0{n}", f"00{n}"}:
                    padded = n < 10 and text == f"0{n}"
                    wanted = lo <= n <= hi and (padded if z == "0" and n < 10 else text == str(n) or padded)
                    assert bool(pattern.fullmatch(text)) == wanted, (lo, hi, z, text)
