"""Japanese first, English selectable with ?lang=en or the language cookie."""
from __future__ import annotations

from fastapi import Request

COOKIE = "__Host-lang"
LANGS = ("ja", "en")


def lang_of(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked
    kept = request.cookies.get(COOKIE)
    return kept if kept in LANGS else "ja"


class Tr:
    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __call__(self, ja: str, en: str) -> str:
        return en if self.lang == "en" else ja
