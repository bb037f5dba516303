"""The recipient files a simulation sends: the synthetic population, and the faulty ones."""
from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path

from gateway.core.records.fields import EXCLUSION_HEADER
from gateway.fsutil import atomic_output
from gateway.simulate.run import Run
from gateway.simulate.scenario import Scenario, Step
from gateway.synthetic import generate_recipients


def population(directory: Path, scenario: Scenario, seed: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    if scenario.schema == "scanned-pdf":
        return scanned_pdf(directory / f"scans-{scenario.records}.pdf", scenario.records)
    path = directory / f"{scenario.schema}-{scenario.records}-{seed}.csv"
    generate_recipients(path, count=scenario.records, schema=scenario.schema, encoding=scenario.encoding,
                        seed=seed, excluded_rate=scenario.excluded_rate)
    if not scenario.columns:
        return path
    return _project(path, directory / f"export-{path.name}", scenario.columns, scenario.encoding)


def _project(source: Path, target: Path, columns: tuple[str, ...], encoding: str) -> Path:
    """The city's export of only some columns (plus the exclusion flag, if the file has one)."""
    with source.open("r", encoding=encoding, newline="") as src, atomic_output(target) as raw:
        rows = csv.reader(src)
        header = next(rows)
        keep = [header.index(c) for c in columns] + [i for i, h in enumerate(header) if h == EXCLUSION_HEADER]
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        out = csv.writer(text, lineterminator="\r\n")
        for row in itertools.chain([header], rows):
            out.writerow([row[i] for i in keep])
        text.flush()
        text.detach()
    source.unlink()
    return target


def for_step(run: Run, step: Step) -> Path:
    kind = step.get("file", "population")
    if kind == "population":
        return run.population
    directory = run.out / "data"
    if kind == "extra-column":
        return _extra_column(run, directory / "extra-column.csv")
    if kind == "flagged":
        path = directory / "flagged.csv"
        generate_recipients(path, count=max(20, min(run.scenario.records, 2000)), schema=run.scenario.schema,
                            encoding=run.scenario.encoding, seed=7, excluded_rate=0.2)
        return path
    if kind.startswith("rows:"):
        return _repeated(run, directory / f"{kind.replace(':', '-')}.csv", int(kind.split(":", 1)[1]))
    raise ValueError(f"unknown file kind {kind!r}")


def _extra_column(run: Run, path: Path) -> Path:
    """The population with one column the approval does not list (a core system's wider export)."""
    extra = "口座番号" if run.scenario.schema == "shinjuku-2020" else "住民番号"
    encoding = run.scenario.encoding
    with run.population.open("r", encoding=encoding, newline="") as src, \
            path.open("w", encoding=encoding, newline="") as dst:
        for n, line in enumerate(src):
            body = line.rstrip("\r\n")
            dst.write(f"{body},{extra if n == 0 else '1234567'}\r\n")
    return path


def _repeated(run: Run, path: Path, rows: int) -> Path:
    """`rows` records, the population's first one repeated: a file past a record limit, made fast."""
    encoding = run.scenario.encoding
    with run.population.open("r", encoding=encoding, newline="") as src:
        header, first = src.readline(), src.readline()
    with path.open("w", encoding=encoding, newline="") as dst:
        dst.write(header)
        block = first * 10_000
        for _ in range(rows // 10_000):
            dst.write(block)
        dst.write(first * (rows % 10_000))
    return path



def scanned_pdf(path: Path, pages: int) -> Path:
    """A stand-in for a batch of scanned application forms: a real PDF of `pages` blank A4 pages
    (no personal data, synthetic or real, is needed to check type, size and page count)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    body = io.BytesIO()  # pypdf's writer seeks back; the file is then written whole
    writer.write(body)
    with atomic_output(path) as out:
        out.write(body.getbuffer())
    return path
