"""What a valid cell of each canonical field looks like.

Each field has two checks that must agree:
- ``cell(text)``: the authority. Returns the normalised value or raises ValueError.
- ``fast``: a regex for one cell that matches only text ``cell`` accepts. The reader joins a whole
  block of rows into one string and runs all columns' fast patterns over it in one regex pass (C
  code, no Python call per cell); only rows it does not match go to ``cell``. ``fast`` may refuse
  more than ``cell`` (full-width digits, padding, 29 February), never less. This keeps validation
  near ``csv.reader`` speed.

Messages name what is expected, never the value: they end up in logs.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from gateway.core.records import dates
from gateway.core.records.fields import CANONICAL_FIELDS, population_for_label

CellCheck = Callable[[str], object]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Any character but line breaks, other control characters and the comma. Fast patterns never match
# a comma so that they also work on raw CSV lines (see reader.py); a cell holding a comma must be
# quoted and goes the per-cell way.
_TEXT = r"[^\x00-\x1f\x7f,]"


@dataclass(frozen=True)
class Rule:
    field: str
    expected_ja: str
    expected_en: str
    cell: CellCheck  # the authority; gets non-empty text, empty cells are handled by `required`
    fast: str  # regex for a non-empty cell that implies `cell` accepts it; never matches \x1f, \n or ","
    required: bool = False  # an empty cell is an error
    memo: bool = False  # few distinct values (dates, codes lists): remember the ones already checked

    def check_cell(self, text: str) -> object:
        if not text:
            if self.required:
                raise ValueError("empty")
            return None
        return self.cell(text)

    @property
    def fast_cell(self) -> str:
        """``fast`` with the empty cell allowed when the field is optional."""
        return f"(?:{self.fast})" if self.required else f"(?:{self.fast})?"


def _nfkc(text: str) -> str:
    s = text if text.isascii() else unicodedata.normalize("NFKC", text)
    return s.strip()


def _matching(pattern: str, *, nfkc: bool = True, normal: Callable[[str], str] | None = None) -> CellCheck:
    full = re.compile(pattern).fullmatch

    def cell(text: str) -> object:
        s = _nfkc(text) if nfkc else text
        if full(s) is None:
            raise ValueError("no match")
        return normal(s) if normal else s

    return cell


def _text(max_len: int | None = None) -> CellCheck:
    def cell(text: str) -> object:
        if _CONTROL.search(text) is not None or (max_len is not None and len(text) > max_len):
            raise ValueError("not text")
        return text

    return cell


def _choice(mapping: dict[str, str]) -> CellCheck:
    def cell(text: str) -> object:
        try:
            return mapping[_nfkc(text)]
        except KeyError:
            raise ValueError("not a choice") from None

    return cell


def _date(text: str) -> object:
    return dates.parse_date(text).isoformat()


def _exclusion(text: str) -> object:
    return population_for_label(text)


def _postal(s: str) -> str:
    digits = s.replace("-", "")
    return f"{digits[:3]}-{digits[3:]}"


_CODE = "[0-9]{1,20}"
_PHONE = "[0-9]{1,6}(?:-[0-9]{1,6}){0,3}"
_KANA_NAME = "[ァ-ヺー・ヽヾ ]*"  # after NFKC: full-width katakana, half-width folded in, spaces
_HALF_KANA_HOLDER = r"[ｦ-ﾟA-Z0-9 ().,/\-]+"  # what Japanese banks accept as an account name

_TEXT_JA, _TEXT_EN = "改行・制御文字は使えません", "line breaks and control characters are not allowed"
_NAME_JA, _NAME_EN = "空欄、または改行・制御文字を含みます", "must not be empty or hold line breaks or control characters"
_CODE_JA, _CODE_EN = "半角数字（1〜20桁）で入力してください", "expected 1 to 20 digits"

_HOLDER_FAST = r"[ｦ-ﾟA-Z0-9 ()./\-]+"  # as _HALF_KANA_HOLDER, without the comma
_EXCLUSION_FAST = "DV等支援措置対象者|児童虐待等被害者|施設入所等児童|DV"

RULES: dict[str, Rule] = {
    r.field: r
    for r in (
        Rule("name", _NAME_JA, _NAME_EN, _text(), f"{_TEXT}+", required=True),
        Rule("name_kana", "カタカナで入力してください", "expected katakana",
             _matching(_KANA_NAME), "[ァ-ヺー・ヽヾ 　]+"),
        Rule("birth_date", dates.EXPECTED_JA, dates.EXPECTED_EN, _date, dates.FAST_PATTERN,
             required=True, memo=True),
        Rule("sex", "「男」または「女」（1/2）で入力してください", "expected 男 or 女 (or 1/2)",
             _choice({"男": "男", "女": "女", "1": "男", "2": "女", "男性": "男", "女性": "女"}), "男|女", memo=True),
        Rule("address", _TEXT_JA, _TEXT_EN, _text(), f"{_TEXT}+"),
        Rule("address_extra", _TEXT_JA, _TEXT_EN, _text(), f"{_TEXT}+"),
        Rule("postal_code", "郵便番号は 1234567 または 123-4567 の形で入力してください",
             "expected a postal code as 1234567 or 123-4567",
             _matching("[0-9]{3}-?[0-9]{4}", normal=_postal), "[0-9]{3}-[0-9]{4}", memo=True),
        Rule("phone", "電話番号は数字とハイフンで入力してください", "expected digits and hyphens",
             _matching(_PHONE), _PHONE),
        Rule("head_of_household", _TEXT_JA, _TEXT_EN, _text(), f"{_TEXT}+"),
        Rule("addressee_code", _CODE_JA, _CODE_EN, _matching(_CODE), _CODE, required=True),
        Rule("household_code", _CODE_JA, _CODE_EN, _matching(_CODE), _CODE, required=True),
        Rule("resident_number", _CODE_JA, _CODE_EN, _matching(_CODE), _CODE, required=True),
        Rule("relationship", "20文字以内で、改行・制御文字は使えません",
             "at most 20 characters, no line breaks or control characters", _text(20), f"{_TEXT}{{1,20}}",
             memo=True),
        Rule("bank_name", "「金融機関コード4桁 半角スペース 名称」の形で入力してください（例: 0001 ○○銀行）",
             "expected a 4-digit bank code, a space and the bank's name",
             _matching("[0-9]{4} +[^ ].*"), r"[0-9]{4} [^\s\x00-\x1f\x7f,][^\x00-\x1f\x7f,]*", memo=True),
        Rule("branch_name", "「店番3桁 半角スペース 名称」の形で入力してください（例: 001 本店）",
             "expected a 3-digit branch code, a space and the branch's name",
             _matching("[0-9]{3} +[^ ].*"), r"[0-9]{3} [^\s\x00-\x1f\x7f,][^\x00-\x1f\x7f,]*", memo=True),
        Rule("account_type", "「普通」「当座」「貯蓄」のいずれかで入力してください",
             "expected 普通, 当座 or 貯蓄",
             _choice({"普通": "普通", "当座": "当座", "貯蓄": "貯蓄", "1": "普通", "2": "当座", "4": "貯蓄"}),
             "普通|当座|貯蓄", memo=True),
        Rule("account_number", "口座番号は7桁の数字で入力してください", "expected a 7-digit account number",
             _matching("[0-9]{7}"), "[0-9]{7}"),
        Rule("account_holder", "口座名義は半角カタカナで入力してください", "expected half-width katakana (bank account name)",
             _matching(_HALF_KANA_HOLDER, nfkc=False), _HOLDER_FAST),
        Rule("exclusion", "除外区分は「DV等支援措置対象者」「児童虐待等被害者」「施設入所等児童」のいずれか、または空欄です",
             "expected empty or one of DV等支援措置対象者, 児童虐待等被害者, 施設入所等児童", _exclusion,
             _EXCLUSION_FAST, memo=True),
    )
}

assert set(RULES) == set(CANONICAL_FIELDS), "every canonical field needs a rule"
