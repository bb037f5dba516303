"""Formula neutralisation: no cell of a package starts a formula when the contractor opens the
file in a spreadsheet (CSV injection; OWASP "CSV Injection").

A spreadsheet reads a cell that begins with `=`, `+`, `-` or `@` as a formula (`=HYPERLINK(...)`
sends data away when clicked, `=cmd|' /C ...'!A0` once ran programs through DDE); tab and carriage
return are on OWASP's list too, and the full-width `＝＋－＠` are included because Japanese input
produces them and some spreadsheets fold them to their ASCII forms. Such a cell gets a leading
apostrophe (`'=1+1`), which spreadsheets show as text and which a reader of the CSV can strip.

Plain numbers are left alone: `-100` or `+5` or `-0.5` (ASCII digits, an optional sign and
decimal point, nothing else) computes nothing, and an amount column must arrive as the number it
is, for the spreadsheet and for the print system alike. Anything else after a sign (`-1+2`, `+A1`,
`-SUM(...)`) is a formula and is neutralised. The rule looks at the cell, not at the column: the
file formats differ between core systems, and a text column can hold a plain number (a 方書 of
`-1`) as well as an amount column can hold a stray formula.

An approval decides (`[data] neutralise_formulas`, default true); the manifest of what was sent
says whether it was applied and how many cells, per column, were changed.
"""
from __future__ import annotations

import collections
import operator
import re
from collections.abc import Sequence

TRIGGERS = frozenset("=+-@\t\r＝＋－＠")
PREFIX = "'"
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# A line of a quote-free chunk, or a cell in it, that begins with a trigger: such a chunk goes the
# cell-by-cell way (a false alarm only costs that chunk the slower way).
_CELL_START = re.compile("(?:^|,)[=+\\-@\t＝＋－＠]", re.MULTILINE)
# Put before each cell's pattern in a line regex, the same test costs a lookahead per cell instead
# of a search over the chunk (formulas_apart in reader.py). Carriage return is left out: it is the
# line's end after an empty last cell (cells never hold one).
FORMULA_NOT_NEXT = "(?![=+\\-@\t＝＋－＠])"
_LINE_START = re.compile("^[=+\\-@\t\r＝＋－＠]", re.MULTILINE)


def is_formula(cell: str) -> bool:
    return bool(cell) and cell[0] in TRIGGERS and _PLAIN_NUMBER.fullmatch(cell) is None


def neutralise(cell: str) -> str:
    return PREFIX + cell if is_formula(cell) else cell


class Neutraliser:
    """Neutralises the rows of a file with `columns` (canonical ids, in the file's order) and
    counts the cells it changed, per column."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self.changed: collections.Counter[str] = collections.Counter()

    def may_need(self, lines: str) -> bool:
        """Whether quote-free CSV lines may hold a cell to neutralise."""
        return _CELL_START.search(lines) is not None

    def rows(self, rows: Sequence[Sequence[str]]) -> Sequence[Sequence[str]]:
        """The rows, with every formula cell neutralised. Each column is checked in one regex
        pass over the block; only a column where a cell starts with a trigger is gone through
        cell by cell, and only its rows are copied."""
        out: list[Sequence[str]] | None = None
        for j, column in enumerate(self.columns):
            if _LINE_START.search("\n".join(map(operator.itemgetter(j), rows))) is None:
                continue
            if out is None:
                out = list(rows)
            for i, row in enumerate(out):
                if is_formula(row[j]):
                    changed = list(row)
                    changed[j] = PREFIX + row[j]
                    out[i] = changed
                    self.changed[column] += 1
        return rows if out is None else out
