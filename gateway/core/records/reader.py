"""Read, validate and minimise recipient files (CSV, UTF-8 / UTF-8 with BOM / CP932) in one streaming pass.

Memory does not grow with the file: ``scan`` checks decoded text a chunk at a time with one regex
over whole lines (_LineScan); ``minimise`` and ``iter_records`` parse rows with csv.reader in
blocks of ``BLOCK_ROWS`` and check each block in one regex pass (_BlockCheck); a ``minimise``
that keeps every column in order goes the way of ``scan`` and copies the lines it checked
(_Copy), at under half the cost. All fall back to the authoritative per-cell checks of values.py
for what the regex does not match. Opening a file and reading its header is opening.py's; the
receipt's count, which checks no cell, is rowcount.py's.

Row numbers in errors are 1-based and count the header as row 1, so row N is the N-th line of the
file as long as no cell holds a line break (a quoted cell with a line break still counts as one row).
Undecodable bytes are located by physical line. Error messages name the file, row and column header
and say what is expected; they never quote a cell (error messages end up in logs).
"""
from __future__ import annotations

import collections
import contextlib
import csv
import dataclasses
import io
import itertools
import operator
import os
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any, BinaryIO

from gateway.core.records.errors import RecordFileError
from gateway.core.records.fields import (
    CONTROL_FIELDS,
    EXCLUDED_POPULATIONS,
    population_for_label,
)
from gateway.core.records.formulas import FORMULA_NOT_NEXT, Neutraliser
from gateway.core.records.linebound import DEFAULT_MAX_LINE_BYTES
from gateway.core.records.manifest import Header, Manifest
from gateway.core.records.opening import (
    CHUNK_CHARS,
    READ_BUFFER,
    OpenRecords,
    PathLike,
    not_csv,
    open_records,
    undecodable,
)
from gateway.core.records.streams import HashingWriter
from gateway.core.records.values import Rule
from gateway.fsutil import atomic_output

BLOCK_ROWS = 2048
_MEMO_LIMIT = 65_536  # distinct values remembered per column: memory must not grow with the file


def read_header(path: PathLike, encoding: str | None = None, *, required: Collection[str] = (),
                max_line: int = DEFAULT_MAX_LINE_BYTES) -> Header:
    """The header of ``path`` mapped to canonical ids, without reading the rows.

    Raises RecordFileError for an empty or binary file, an unknown or duplicate column, or a
    missing ``required`` field.
    """
    with open_records(path, encoding, required, max_line=max_line) as o:
        return o.header


def scan(path: PathLike, *, encoding: str | None = None, required: Collection[str] = (),
         max_line: int = DEFAULT_MAX_LINE_BYTES) -> Manifest:
    """Validate every row of ``path`` and describe it; writes nothing. A line longer than
    ``max_line`` bytes is refused as it is read (linebound.py)."""
    with open_records(path, encoding, required, max_line=max_line) as o:
        count, flags = _LineScan(o).run()
        return _manifest(o, count, _excluded(flags))


def iter_records(
    path: PathLike, *, encoding: str | None = None, required: Collection[str] = (),
    max_line: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[dict[str, object]]:
    """Each row as {canonical id: normalised value} (dates as ISO, postal codes as 123-4567,
    exclusion as a population id or None). Validates as ``scan`` does."""
    with open_records(path, encoding, required, max_line=max_line) as o:
        rules = list(zip(o.header.columns, o.rules, strict=False))
        for block in _validated_blocks(o):
            for row in block:
                yield {f: r.check_cell(v) for (f, r), v in zip(rules, row, strict=False)}


def minimise(
    path: PathLike,
    out_path: PathLike,
    *,
    fields: Sequence[str],
    remove: Collection[str] = (),
    encoding: str | None = None,
    sink: BinaryIO | None = None,
    max_line: int = DEFAULT_MAX_LINE_BYTES,
    neutralise_formulas: bool | None = None,
    listed: Callable[[tuple[str, ...]], Any] | None = None,
) -> tuple[Manifest, Manifest]:
    """Write to ``out_path`` only ``fields`` (in that order, under the file's own headers) and only
    rows whose excluded population is not in ``remove``; validate every row on the way.

    With ``sink``, the output goes there as it is produced (an encryptor: a send never writes the
    minimised plaintext to disk) and ``out_path`` only names it in the manifest; on an error the
    caller discards what the sink received.

    Control columns (the exclusion flag) are never written, even when listed. The output is in the
    input's encoding and line ending (the contractor's print system expects what the city
    exports) and appears atomically: on any error neither it nor a temporary file remains.
    With ``neutralise_formulas``, no written cell starts a spreadsheet formula (formulas.py); when
    it is given (true or false), the output manifest says which.
    With ``listed`` (given the file's columns, a matcher whose ``population(row)`` names the
    excluded population a separately held list puts the row in: keyed_lists.py), rows are screened
    against those lists too and counted and removed as if the flag column had said so.
    Returns (manifest of the source, manifest of the output).
    """
    wanted = [f for f in fields if f not in CONTROL_FIELDS]
    if len(set(wanted)) != len(wanted):
        raise ValueError("fields lists a field twice")
    unknown = set(remove) - set(EXCLUDED_POPULATIONS)
    if unknown:
        raise ValueError(f"unknown excluded populations: {sorted(unknown)}")
    with open_records(path, encoding, required=wanted, max_line=max_line) as o:
        idx = [o.header.columns.index(f) for f in wanted]
        pick = operator.itemgetter(*idx) if len(idx) != 1 else (lambda row, i=idx[0]: (row[i],))
        ex = _index(o.header, "exclusion")
        removing = bool(remove) and ex is not None
        drop = _LabelFilter(remove)
        headers = [o.header.source_headers[i] for i in idx]
        neutraliser = Neutraliser(wanted) if neutralise_formulas else None
        matcher = listed(o.header.columns) if listed is not None else None
        on_list: collections.Counter[str] = collections.Counter()
        count = kept = 0
        flags: collections.Counter[str] = collections.Counter()
        removed: collections.Counter[str] = collections.Counter()
        with (contextlib.nullcontext(sink) if sink is not None else atomic_output(out_path)) as raw:
            hashing = HashingWriter(raw)
            buffered = io.BufferedWriter(hashing, READ_BUFFER)  # type: ignore[type-var]
            text = io.TextIOWrapper(buffered, encoding=o.header.encoding, errors="strict", newline="")
            writer = csv.writer(text, lineterminator=o.newline)
            if idx:
                writer.writerow(headers)
            whole = idx == list(range(len(o.header.columns))) and matcher is None
            if whole:
                # Every column, in order (so no exclusion column either): the rows go out as they
                # came, validated by the line scanner without being split into cells.
                count, _ = _LineScan(o, formulas_apart=neutraliser is not None).run(
                    _Copy(o, text, writer, neutraliser))
                kept = count
            for block in () if whole else _validated_blocks(o):
                count += len(block)
                col = list(map(operator.itemgetter(ex), block)) if ex is not None else []
                flags.update(col)
                if removing and any(col):
                    keep = []
                    for row, flag in zip(block, col, strict=False):
                        population = drop.population(flag) if flag else None
                        if population in drop.remove:
                            removed[f"excluded:{population}"] += 1
                        else:
                            keep.append(row)
                    block = keep
                if matcher is not None:
                    keep_rows = []
                    for row in block:
                        population = matcher.population(row)
                        if population is None:
                            keep_rows.append(row)
                            continue
                        on_list[population] += 1
                        if population in drop.remove:
                            removed[f"excluded:{population}"] += 1
                        else:
                            keep_rows.append(row)
                    block = keep_rows
                kept += len(block)
                if idx:
                    picked = map(pick, block)
                    writer.writerows(picked if neutraliser is None else neutraliser.rows(list(picked)))
            text.flush()
            text.detach()
            buffered.flush()
        excluded = collections.Counter(_excluded(flags))
        excluded.update(on_list)
        source = dataclasses.replace(_manifest(o, count, dict(excluded)), listed=dict(on_list))
    written = Manifest(
        source_name=os.path.basename(os.fspath(out_path)),
        encoding=o.header.encoding,
        columns=tuple(wanted),
        source_headers=tuple(headers),
        record_count=kept,
        sha256=hashing.sha256.hexdigest(),
        size_bytes=hashing.size,
        excluded={},
        removed=dict(removed),
        formulas="" if neutralise_formulas is None else "neutralised" if neutralise_formulas else "kept",
        neutralised=dict(neutraliser.changed) if neutraliser is not None else {},
    )
    return source, written


class _LabelFilter:
    """Population of a 除外区分 label, memoised: a file holds a handful of distinct labels."""

    def __init__(self, remove: Collection[str]) -> None:
        self.remove = frozenset(remove)
        self._cache: dict[str, str | None] = {}

    def population(self, label: str) -> str | None:
        try:
            return self._cache[label]
        except KeyError:
            pop = self._cache[label] = population_for_label(label)
            return pop


def _index(header: Header, field_id: str) -> int | None:
    return header.columns.index(field_id) if field_id in header.columns else None


def _excluded(flags: collections.Counter[str]) -> dict[str, int]:
    out: collections.Counter[str] = collections.Counter()
    for label, n in flags.items():
        if label:
            population = population_for_label(label)
            if population is not None:
                out[population] += n
    return dict(out)


def _manifest(o: OpenRecords, count: int, excluded: dict[str, int]) -> Manifest:
    o.hashing.drain()
    return Manifest(
        source_name=o.header.source_name,
        encoding=o.header.encoding,
        columns=o.header.columns,
        source_headers=o.header.source_headers,
        record_count=count,
        sha256=o.hashing.sha256.hexdigest(),
        size_bytes=o.hashing.size,
        excluded=excluded,
        removed={},
    )


class _GuardedRows:
    def __init__(self, rows: Iterator[list[str]], path: PathLike, codec: str) -> None:
        self.rows = rows
        self.path = path
        self.codec = codec

    def __iter__(self) -> _GuardedRows:
        return self

    def __next__(self) -> list[str]:
        return next(self.rows)

    def block(self, n: int) -> list[list[str]]:
        try:
            return list(itertools.islice(self.rows, n))
        except UnicodeDecodeError:
            raise undecodable(self.path, self.codec) from None
        except csv.Error:
            raise not_csv(self.path, getattr(self.rows, "line_num", None)) from None


class _LineScan:
    """scan()'s way through a file: decoded text in large chunks, whole lines checked by one regex.

    As long as a chunk holds no quote character, every line is one row and every comma a cell
    boundary, so the rows' fast patterns (values.py; they never match a comma or a line break)
    joined by commas check whole lines without splitting them into cells, and the exclusion flag is
    captured by a group to be counted. Lines the regex does not match go through csv.reader and
    the per-cell checks (_validated_blocks), which also locate errors; from the first quote on,
    the rest of the file does (quoted cells may hold commas and line breaks).

    With ``formulas_apart``, a line with a cell that starts a spreadsheet formula is not matched
    either, so only the lines left over need a search for formulas (a lookahead per cell costs a
    fifth of searching the whole chunk).
    """

    def __init__(self, o: OpenRecords, *, formulas_apart: bool = False) -> None:
        self.o = o
        # A one-column file: an empty cell would look like a blank line, which csv.reader skips.
        cells = [r.fast_cell for r in o.rules] if len(o.rules) > 1 else [f"(?:{o.rules[0].fast})"]
        if formulas_apart:
            cells = [FORMULA_NOT_NEXT + cell for cell in cells]
        ex = _index(o.header, "exclusion")
        if ex is not None:
            cells[ex] = f"({cells[ex]})"
        pattern = re.compile(f"^{','.join(cells)}\r?\n", re.MULTILINE)
        self._findall = pattern.findall if ex is not None else None
        self._cut = pattern.sub

    def _blocks(self, lines: Iterable[str], first_row: int) -> Iterator[list[list[str]]]:
        return _validated_blocks(self.o, lines, first_row)

    def run(self, copy: _Copy | None = None) -> tuple[int, collections.Counter[str]]:
        """(rows, exclusion labels counted); with ``copy``, every valid row is also written out
        as it was read (see _Copy)."""
        o = self.o
        count = 0
        lines = 0  # lines after the header so far: row numbers for the csv.reader way
        flags: collections.Counter[str] = collections.Counter()
        carry = ""
        ex = _index(o.header, "exclusion")
        while True:
            try:
                chunk = o.text.read(CHUNK_CHARS)
            except UnicodeDecodeError:
                raise undecodable(o.path, o.header.encoding) from None
            if chunk:
                text = carry + chunk
                cut = text.rfind("\n") + 1
                body, carry = text[:cut], text[cut:]
                if not body:
                    continue
            elif carry:
                body, carry = carry + "\n", ""  # the last line had no line break
            else:
                return count, flags
            if '"' in body:
                try:
                    tail = carry + o.text.readline()  # csv.reader must not see the cut line as two
                except UnicodeDecodeError:
                    raise undecodable(o.path, o.header.encoding) from None
                remainder = itertools.chain(io.StringIO(body + tail, newline=""), o.text)
                for block in _validated_blocks(o, remainder, lines + 2):
                    count += len(block)
                    if ex is not None:
                        flags.update(map(operator.itemgetter(ex), block))
                    if copy is not None:
                        copy.rows(block)
                return count, flags
            n = body.count("\n")
            if self._findall is not None:
                found = self._findall(body)
                flags.update(found)
                good = len(found)
                rest = self._cut("", body) if good != n else ""
            else:
                rest = self._cut("", body)
                good = n - rest.count("\n")
            count += good
            if rest:
                # Only the lines the regex did not match go the per-cell way; if one is really
                # wrong, check the whole chunk again so that the error names the right row.
                try:
                    extra = list(self._blocks(io.StringIO(rest, newline=""), lines + 2))
                except RecordFileError:
                    list(self._blocks(io.StringIO(body, newline=""), lines + 2))
                    raise
                for block in extra:
                    count += len(block)
                    if ex is not None:
                        flags.update(map(operator.itemgetter(ex), block))
            if copy is not None:
                copy.lines(body, lines + 2, lines=n, unmatched=rest)
            lines += n


class _Copy:
    """Writes what _LineScan validated, as csv.writer would write its rows: minimise's way when
    the output keeps every column in order (an approval that takes the whole file, as Kurume's).

    A quote-free chunk whose lines all end with the file's line terminator, with no blank line
    and no stray carriage return, is exactly what csv.writer makes of its rows (cells hold no
    comma, quote or line break), so it goes out as it is, in one write; anything else is parsed
    and written row by row.
    """

    def __init__(self, o: OpenRecords, text: io.TextIOWrapper, writer: Any, neutraliser: Neutraliser | None) -> None:
        self.o = o
        self.write = text.write
        self._writerows = writer.writerows
        self._neutraliser = neutraliser
        self._blank = o.newline + o.newline

    def rows(self, block: list[list[str]]) -> None:
        self._writerows(block if self._neutraliser is None else self._neutraliser.rows(block))

    def lines(self, body: str, first_row: int, *, lines: int, unmatched: str) -> None:
        """``lines``: how many line feeds ``body`` holds. ``unmatched``: its lines _LineScan's regex
        did not match; when neutralising, they include every line with a formula cell
        (formulas_apart), so only they are searched."""
        crs = body.count("\r")
        crlf = self.o.newline == "\r\n"
        if not unmatched:
            # Every line matched `cells\r?\n`: none is blank, and no cell pattern takes a control
            # character, so each CR ends a line and counting them is enough (a tenth of the
            # pass went to searching 300,000 records' chunks for CRLF and blank lines).
            regular = crs == (lines if crlf else 0)
        else:
            regular = ((crs == lines == body.count("\r\n")) if crlf else crs == 0) \
                and self._blank not in body and not body.startswith(self.o.newline)
        formulas = self._neutraliser is not None and bool(unmatched) and self._neutraliser.may_need(unmatched)
        if regular and not formulas:
            self.write(body)
        else:
            for block in _validated_blocks(self.o, io.StringIO(body, newline=""), first_row):
                self.rows(block)


class _BlockCheck:
    """All columns of a block checked in one regex pass; rows it does not match go cell by cell.

    The block's rows are joined into one string (cells by \\x1f, rows by \\n) and every line the
    rows' fast pattern matches is cut out by one ``re.sub``: what remains are the rows that need
    the authoritative per-cell check. See values.py for why the two must agree.
    """

    def __init__(self, rules: Sequence[Rule]) -> None:
        row = "\x1f".join(r.fast_cell for r in rules)
        self._cut = re.compile(f"^{row}(?:\n|\\Z)", re.MULTILINE).sub
        self._rules = list(rules)
        self._memos: list[set[str] | None] = [set() if r.memo else None for r in rules]
        self._cells = len(rules)

    def __call__(self, block: list[list[str]]) -> bool:
        """True when every cell is valid; False means: find the error with _check_cells."""
        text = "\n".join(map("\x1f".join, block))
        # A separator inside a cell would shift cells between columns (such a cell is invalid anyway).
        if text.count("\n") != len(block) - 1 or text.count("\x1f") != len(block) * (self._cells - 1):
            return False
        rest = self._cut("", text)
        if not rest:
            return True
        lines = rest.split("\n")
        if rest.endswith("\n"):
            lines.pop()
        for line in lines:
            for cell, rule, memo in zip(line.split("\x1f"), self._rules, self._memos, strict=False):
                if memo is not None and cell in memo:
                    continue
                try:
                    rule.check_cell(cell)
                except ValueError:
                    return False
                if memo is not None and len(memo) < _MEMO_LIMIT:
                    memo.add(cell)
        return True


def _validated_blocks(
    o: OpenRecords, lines: Iterable[str] | None = None, next_row: int = 2
) -> Iterator[list[list[str]]]:
    """Blocks of valid rows parsed by csv.reader from ``lines`` (default: the rest of the file);
    ``next_row`` is the number of the first row (the header is row 1)."""
    rows = _GuardedRows(csv.reader(o.text if lines is None else lines), o.path, o.header.encoding)
    n = len(o.header.columns)
    check = _BlockCheck(o.rules)
    lengths_ok = {n}
    while True:
        block = rows.block(BLOCK_ROWS)
        if not block:
            return
        first = next_row
        next_row += len(block)
        numbers: Sequence[int] = range(first, next_row)
        if set(map(len, block)) != lengths_ok:
            # Blank lines are skipped (exports often end with one); any other count is ragged.
            for number, row in zip(numbers, block, strict=False):
                if row and len(row) != n:
                    raise RecordFileError(
                        o.path,
                        f"列の数が {len(row)} 個です（見出しは {n} 列）。区切りの「,」や引用符を確認してください。",
                        f"{len(row)} cells where the header has {n}; check commas and quotes.",
                        row=number,
                    )
            numbers = [number for number, row in zip(numbers, block, strict=False) if row]
            block = [row for row in block if row]
            if not block:
                continue
        if not check(block):
            _check_cells(o, block, numbers)
        yield block


def _check_cells(o: OpenRecords, block: list[list[str]], numbers: Sequence[int]) -> None:
    """The authoritative check, cell by cell in row order: raises at the first bad cell."""
    rules = list(enumerate(o.rules))
    for number, row in zip(numbers, block, strict=False):
        for i, rule in rules:
            try:
                rule.check_cell(row[i])
            except ValueError:
                column = o.header.source_headers[i]
                if not row[i] and rule.required:
                    ja, en = "空欄にはできません。", "must not be empty."
                else:
                    ja, en = rule.expected_ja, rule.expected_en
                raise RecordFileError(o.path, ja, en, row=number, column=column, field=rule.field) from None
