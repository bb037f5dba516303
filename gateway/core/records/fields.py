"""Canonical field ids of a recipient file, the headers core systems export for them, and the schemas.

Every other module speaks canonical ids (``birth_date``), never header text (``生年月日``): core
systems name the same column differently (漢字氏名 / 氏名 / 氏名（漢字）), and approvals must not
depend on which system exported the file. This module is the one table that maps the two.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Mapping

# Canonical id -> header aliases, the first being the label shown to people.
_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("氏名", "漢字氏名", "氏名（漢字）"),
    "name_kana": ("カナ氏名", "フリガナ", "氏名（カナ）"),
    "birth_date": ("生年月日",),
    "sex": ("性別",),
    "address": ("住所",),
    "address_extra": ("方書", "漢字方書"),
    "postal_code": ("郵便番号",),
    "phone": ("電話番号",),
    "head_of_household": ("世帯主名", "世帯主漢字氏名", "世帯主氏名"),
    "addressee_code": ("宛名コード", "宛名番号"),
    "household_code": ("世帯コード", "世帯番号"),
    "resident_number": ("住民番号", "住民コード"),
    "relationship": ("続柄",),
    "bank_name": ("金融機関名",),
    "branch_name": ("本・支店名", "支店名"),
    "account_type": ("口座種別", "預金種目"),
    "account_number": ("口座番号",),
    "account_holder": ("口座名義", "口座名義人"),
    "exclusion": ("除外区分",),
}

#: Every canonical id, control columns included (approvals validate their field lists against it).
CANONICAL_FIELDS: tuple[str, ...] = tuple(_ALIASES)

#: Columns that steer the gateway and never reach a contractor: minimisation always drops them.
CONTROL_FIELDS: frozenset[str] = frozenset({"exclusion"})

#: Excluded population id -> label shown to people.
EXCLUDED_POPULATIONS: Mapping[str, str] = {
    "dv-evacuee": "DV等支援措置対象者",
    "abuse-victim": "児童虐待等被害者",
    "child-in-care": "施設入所等児童",
}

# What staff may type into the 除外区分 column, after normalise_label(); the ids themselves are accepted.
_EXCLUSION_ALIASES: dict[str, tuple[str, ...]] = {
    "dv-evacuee": ("DV等支援措置対象者", "DV"),
    "abuse-victim": ("児童虐待等被害者",),
    "child-in-care": ("施設入所等児童",),
}

#: Column headers of the two reference exports (DOMAIN.md), in file order.
SCHEMAS: Mapping[str, tuple[str, ...]] = {
    "kurume-2020": (
        "氏名", "生年月日", "性別", "住所", "郵便番号", "電話番号", "世帯主名", "宛名コード",
        "世帯コード", "金融機関名", "本・支店名", "口座種別", "口座番号", "口座名義",
    ),
    "shinjuku-2020": (
        "住民番号", "カナ氏名", "漢字氏名", "続柄", "生年月日", "郵便番号", "住所", "世帯番号",
        "世帯主漢字氏名", "漢字方書",
    ),
}

#: The header written for the exclusion control column.
EXCLUSION_HEADER = "除外区分"


def normalise_label(text: str) -> str:
    """NFKC and no whitespace at all: exports differ in full-width brackets and stray spaces."""
    return "".join(unicodedata.normalize("NFKC", text).split()).lstrip("\ufeff")


_BY_HEADER: dict[str, str] = {
    normalise_label(alias): field for field, aliases in _ALIASES.items() for alias in aliases
}

_EXCLUSION_BY_LABEL: dict[str, str] = {
    normalise_label(label).upper(): pop
    for pop, labels in _EXCLUSION_ALIASES.items()
    for label in (*labels, pop)
}


def field_for_header(header: str) -> str | None:
    """The canonical id a source header maps to, or None when it maps to none."""
    return _BY_HEADER.get(normalise_label(header))


def header_label(field: str) -> str:
    """The Japanese label people know a canonical field by (its first alias)."""
    return _ALIASES[field][0]


def aliases(field: str) -> tuple[str, ...]:
    return _ALIASES[field]


def population_for_label(cell: str) -> str | None:
    """Excluded population id for a 除外区分 cell; None for an empty cell.

    Raises ValueError for a label that names no known population.
    """
    key = normalise_label(cell).upper()
    if not key:
        return None
    try:
        return _EXCLUSION_BY_LABEL[key]
    except KeyError:
        raise ValueError("unknown exclusion label") from None
