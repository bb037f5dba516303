"""`gateway generate recipients` and the generator behind it: deterministic, schema-true, readable."""
from __future__ import annotations

import csv
import hashlib
import io
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from gateway.core.records.dates import parse_date
from gateway.core.records.fields import EXCLUDED_POPULATIONS, SCHEMAS, field_for_header
from gateway.core.records.reader import iter_records, read_header, scan
from gateway.synthetic import generate_recipients

GATEWAY = Path(sys.executable).parent / "gateway"


def rows_of(path: Path, encoding: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode(encoding), newline="")))


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = generate_recipients(tmp_path / "a.csv", count=3000, seed=7, excluded_rate=0.02)
    b = generate_recipients(tmp_path / "b.csv", count=3000, seed=7, excluded_rate=0.02)
    c = generate_recipients(tmp_path / "c.csv", count=3000, seed=8, excluded_rate=0.02)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert a.sha256 == b.sha256 != c.sha256
    assert a.sha256 == hashlib.sha256((tmp_path / "a.csv").read_bytes()).hexdigest()


@pytest.mark.parametrize("schema", sorted(SCHEMAS))
@pytest.mark.parametrize("encoding", ["cp932", "utf-8"])
def test_reader_accepts_generator_output(tmp_path, schema, encoding):
    path = tmp_path / "r.csv"
    g = generate_recipients(path, count=4000, schema=schema, encoding=encoding, seed=1)
    m = scan(path)
    assert g.rows == m.record_count == 4000
    assert m.encoding == encoding
    assert m.source_headers == SCHEMAS[schema]
    assert m.sha256 == g.sha256 and m.size_bytes == g.size_bytes
    assert m.excluded == {}
    # every date form the generator writes parses
    assert all(r["birth_date"] for r in iter_records(path))


def test_cp932_output_round_trips(tmp_path):
    path = tmp_path / "k.csv"
    generate_recipients(path, count=3000, schema="kurume-2020", encoding="cp932", seed=2)
    data = path.read_bytes()
    assert data.decode("cp932").encode("cp932") == data
    assert b"\r\n" in data


def test_utf8_output_carries_gaiji(tmp_path):
    path = tmp_path / "u.csv"
    generate_recipients(path, count=20000, schema="shinjuku-2020", encoding="utf-8", seed=3)
    assert "\U00020bb7" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("count", [0, 1, 2, 17])
def test_exact_row_counts(tmp_path, count):
    path = tmp_path / "n.csv"
    assert generate_recipients(path, count=count, schema="shinjuku-2020", seed=4).rows == count
    assert scan(path).record_count == count


def test_kurume_schema_and_bank_formats(tmp_path):
    path = tmp_path / "k.csv"
    generate_recipients(path, count=2000, schema="kurume-2020", seed=5)
    rows = rows_of(path, "cp932")
    assert rows[0] == list(SCHEMAS["kurume-2020"])
    assert len(rows[0]) == 14
    with_bank = [r for r in rows[1:] if r[9]]
    assert len(with_bank) > 500
    for r in with_bank:
        assert r[9][:4].isdigit() and r[9][4] == " "
        assert r[10][:3].isdigit() and r[10][3] == " "
        assert r[11] in ("普通", "当座", "貯蓄")
        assert len(r[12]) == 7 and r[12].isdigit()
        assert all("ｦ" <= ch <= "ﾟ" or ch == " " for ch in r[13])
    forms = {("wareki" if not r[1][:1].isdigit() else "iso") for r in rows[1:]}
    assert forms == {"wareki", "iso"}


def test_shinjuku_households_are_consistent(tmp_path):
    path = tmp_path / "s.csv"
    g = generate_recipients(path, count=20000, schema="shinjuku-2020", seed=6)
    rows = rows_of(path, "cp932")
    header = rows[0]
    assert header == list(SCHEMAS["shinjuku-2020"])
    col = {field_for_header(h): i for i, h in enumerate(header)}
    households: dict[str, list[list[str]]] = defaultdict(list)
    order: list[str] = []
    for r in rows[1:]:
        code = r[col["household_code"]]
        if code not in households:
            order.append(code)
        elif order[-1] != code:
            pytest.fail("a household's members are not contiguous")
        households[code].append(r)
    assert len(households) == g.households
    ratio = g.rows / g.households
    assert 1.45 < ratio < 1.75  # Shinjuku: about 350,000 persons / 220,000 households
    allowed = {"世帯主", "妻", "夫", "子", "父", "母", "孫"}
    residents = set()
    for members in households.values():
        head = members[0]
        assert head[col["relationship"]] == "世帯主"
        assert [m[col["relationship"]] for m in members].count("世帯主") == 1
        assert sum(m[col["relationship"]] in ("妻", "夫") for m in members) <= 1
        for m in members:
            assert m[col["relationship"]] in allowed
            assert m[col["head_of_household"]] == head[col["name"]]
            assert m[col["address"]] == head[col["address"]]
            assert m[col["address_extra"]] == head[col["address_extra"]]
            assert m[col["postal_code"]] == head[col["postal_code"]]
            assert m[col["name"]].split("\u3000")[0] == head[col["name"]].split("\u3000")[0]
            residents.add(m[col["resident_number"]])
        head_born = parse_date(head[col["birth_date"]])
        for m in members:
            if m[col["relationship"]] in ("子", "孫"):
                assert parse_date(m[col["birth_date"]]) > head_born
    assert len(residents) == g.rows


def test_excluded_rate_is_roughly_honoured(tmp_path):
    path = tmp_path / "x.csv"
    generate_recipients(path, count=20000, schema="kurume-2020", seed=9, excluded_rate=0.1)
    h = read_header(path)
    assert h.columns[-1] == "exclusion" and h.source_headers[-1] == "除外区分"
    m = scan(path)
    assert set(m.excluded) == set(EXCLUDED_POPULATIONS)
    assert 0.09 < sum(m.excluded.values()) / 20000 < 0.11
    assert read_header(generate_recipients(tmp_path / "y.csv", count=10, seed=9).path).columns[-1] != "exclusion"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(GATEWAY), "generate", "recipients", *args], capture_output=True, text=True, cwd=cwd)


def test_cli_writes_the_file_and_prints_its_hash(tmp_path):
    proc = _cli("--count", "500", "--schema", "shinjuku-2020", "--encoding", "utf-8", "--seed", "3",
                "--excluded-rate", "0.05", "-o", "out.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out.csv"
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert digest in proc.stdout
    assert "500" in proc.stdout
    m = scan(out)
    assert m.record_count == 500 and m.encoding == "utf-8" and "exclusion" in m.columns
    again = _cli("--count", "500", "--schema", "shinjuku-2020", "--encoding", "utf-8", "--seed", "3",
                 "--excluded-rate", "0.05", "-o", "again.csv", cwd=tmp_path)
    assert (tmp_path / "again.csv").read_bytes() == out.read_bytes(), again.stderr


def test_cli_defaults_to_kurume_cp932(tmp_path):
    proc = _cli("--count", "50", "-o", "k.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    m = scan(tmp_path / "k.csv")
    assert m.encoding == "cp932" and m.source_headers == SCHEMAS["kurume-2020"]


@pytest.mark.parametrize("args", [
    ("--count", "10"),  # no -o
    ("-o", "x.csv"),  # no --count
    ("--count", "-1", "-o", "x.csv"),
    ("--count", "10", "--schema", "osaka", "-o", "x.csv"),
    ("--count", "10", "--excluded-rate", "1.5", "-o", "x.csv"),
    ("--count", "10", "--encoding", "euc-jp", "-o", "x.csv"),
])
def test_cli_usage_errors_exit_2(tmp_path, args):
    proc = _cli(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert not (tmp_path / "x.csv").exists()


def test_cli_unwritable_output_exits_1_bilingual(tmp_path):
    proc = _cli("--count", "10", "-o", str(tmp_path / "missing" / "x.csv"), cwd=tmp_path)
    assert proc.returncode == 1
    ja, en = proc.stderr.strip().split("\n")
    assert "フォルダ" in ja and "folder" in en
