"""Bounded memory for any input (issue 26, finding 7): a line longer than `[records]
max_line_bytes` is refused while it is read, with its row and column, so one 80 MB line no
longer takes a reader (the portal's send, `gateway check`) to a gigabyte. The bound is the
limit, not the input: README, "Bounded memory"."""
from __future__ import annotations

import json

import pytest

from tests.conftest import APPROVALS, run_gateway
from tests.reliability.memory import peak_rss

IN_PERIOD = {"GATEWAY_FAKE_NOW": "2020-06-01T10:00:00+09:00"}
BOUND = 300 * 1024 * 1024  # the bound for `gateway check` of one 80 MB line


@pytest.fixture
def checked(home, tmp_path):
    run_gateway("approval", "add", str(APPROVALS / "kurume-2020-teigaku.toml"), env=IN_PERIOD)
    source = tmp_path / "r.csv"
    run_gateway("generate", "recipients", "--count", "3", "--schema", "kurume-2020", "--seed", "3", "-o", str(source))
    return source.read_bytes().split(b"\n", 1)[0]


def check(tmp_path, path):
    return peak_rss(tmp_path, "check", str(path), "--approval", "kurume-2020-teigaku", "--recipient", "chikugo-print",
                    "--profile", "vpn-sftp", "--json", env=IN_PERIOD)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_one_80_mb_line_is_refused_with_its_row_and_column_under_300_mb(checked, tmp_path):
    header = checked
    path = tmp_path / "long.csv"
    with path.open("wb") as f:
        f.write(header + b"\n")
        f.write(b"x" * (80 * 1024 * 1024) + b"\n")
    proc, peak = check(tmp_path, path)
    assert proc.returncode == 1, proc.stderr
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    assert answer["category"] == "invalid"
    assert "row 2, column 氏名" in answer["en"] and "too long" in answer["en"] and "2行目「氏名」" in answer["ja"]
    assert peak < BOUND, f"peak {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_column_reached_is_named_even_past_quoted_commas(checked, tmp_path):
    header = checked
    path = tmp_path / "long-later.csv"
    cells = header.count(b",")
    with path.open("wb") as f:
        f.write(header + b"\n")
        f.write(b'"a,b",2020-01-01,' + b"y" * (2 * 1024 * 1024) + b"\n")  # the third cell runs on
    proc, _ = check(tmp_path, path)
    assert proc.returncode == 1 and cells >= 3
    third = header.decode("cp932").split(",")[2]
    assert f"row 2, column {third}" in json.loads(proc.stdout.strip().splitlines()[-1])["en"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_limit_is_a_setting(checked, tmp_path, home):
    header = checked
    path = tmp_path / "wide.csv"
    path.write_bytes(header + b"\n" + b"z" * 5000 + b"\n")
    (home / "gateway.toml").write_text((home / "gateway.toml").read_text() + "\n[records]\nmax_line_bytes = 4096\n")
    proc, _ = check(tmp_path, path)
    assert proc.returncode == 1 and "at most 4,096 bytes" in proc.stderr
    shown = json.loads(run_gateway("settings", "show", "--json").stdout)
    assert shown["records"]["max_line_bytes"] == 4096
