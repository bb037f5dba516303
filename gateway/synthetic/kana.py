"""Full-width katakana to the half-width form Japanese banks use for account names (口座名義)."""
from __future__ import annotations

import unicodedata

# Half-width katakana fold to full-width under NFKC; reverse that to get the table.
_TO_HALF: dict[int, str] = {}
for _cp in range(0xFF61, 0xFFA0):
    _half = chr(_cp)
    _full = unicodedata.normalize("NFKC", _half)
    if len(_full) == 1:
        _TO_HALF.setdefault(ord(_full), _half)
_TO_HALF.update({
    0x3099: "ﾞ", 0x309A: "ﾟ",  # combining (semi-)voiced marks, as NFD writes ガ and パ
    0x3000: " ",
    # Bank account names use no small kana, and half-width has no ヮ ヵ ヶ ヰ ヱ.
    ord("ァ"): "ｱ", ord("ィ"): "ｲ", ord("ゥ"): "ｳ", ord("ェ"): "ｴ", ord("ォ"): "ｵ",
    ord("ャ"): "ﾔ", ord("ュ"): "ﾕ", ord("ョ"): "ﾖ", ord("ッ"): "ﾂ", ord("ヮ"): "ﾜ",
    ord("ヵ"): "ｶ", ord("ヶ"): "ｹ", ord("ヰ"): "ｲ", ord("ヱ"): "ｴ",
})


def to_half_width_kana(text: str) -> str:
    """``ヤマダ　タロウ`` -> ``ﾔﾏﾀﾞ ﾀﾛｳ``; characters without a half-width form pass unchanged."""
    return unicodedata.normalize("NFD", text).translate(_TO_HALF)
