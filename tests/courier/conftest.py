"""Courier installations: the Shinjuku NHI CD-R approval and the Kurume relay, on SQLite and PostgreSQL.

`cli()` runs the real `gateway` command group in this process (click's runner: same commands,
same exit codes, without a Python start-up per step), so the long flows stay fast; the Shinjuku
flow also runs the installed console script for the steps an operator types.
"""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from gateway.cli import main
from tests.conftest import APPROVALS, city_policy, run_audit, run_gateway

NHI = "shinjuku-2020-nhi-cdr"
KURUME = "kurume-2020-teigaku"


class Cli:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
        self.monkeypatch = monkeypatch
        self.home = home
        self.runner = CliRunner()

    def at(self, when: str) -> Cli:
        """Move the gateway's clock (GATEWAY_FAKE_NOW; JST when no zone is given)."""
        self.monkeypatch.setenv("GATEWAY_FAKE_NOW", when if "+" in when else when + "+09:00")
        return self

    def __call__(self, *args: str, check: bool = True) -> SimpleNamespace:
        result = self.runner.invoke(main, list(args), catch_exceptions=False)
        out = SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)
        if check and result.exit_code != 0:
            raise AssertionError(f"gateway {' '.join(args)} exited {result.exit_code}\n{result.stdout}\n{result.stderr}")
        return out

    def json(self, *args: str) -> dict:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def cli(home, monkeypatch) -> Cli:
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    return Cli(monkeypatch, home)


def nhi_file(tmp_path: Path, count: int = 40) -> Path:
    """A Shinjuku NHI export with only the approval's columns (住民番号 exported as the 宛名コード)."""
    source = tmp_path / "shinjuku.csv"
    run_gateway("generate", "recipients", "--count", str(count), "--schema", "shinjuku-2020", "--seed", "11",
                "-o", str(source))
    with source.open(encoding="cp932", newline="") as f:
        rows = list(csv.reader(f))
    rows[0] = ["宛名コード" if h == "住民番号" else h for h in rows[0]]
    keep = [i for i, h in enumerate(rows[0]) if h not in ("カナ氏名", "続柄", "生年月日")]
    out = tmp_path / "nhi.csv"
    with out.open("w", encoding="cp932", newline="") as f:
        csv.writer(f, lineterminator="\r\n").writerows([[r[i] for i in keep] for r in rows])
    return out


@pytest.fixture
def shinjuku(cli, tmp_path) -> SimpleNamespace:
    """The NHI approval, a ward staff account, and a courier-cdr transfer sent at 09:00 on day 1."""
    cli.at("2020-06-01T09:00:00")
    cli("approval", "add", str(APPROVALS / f"{NHI}.toml"))
    cli("user", "add", "w.kato", "--org", "shinjuku", "--role", "staff", "--name", "加藤 和子")
    cli("user", "add", "w.ito", "--org", "shinjuku", "--role", "staff", "--name", "伊藤 誠")
    source = nhi_file(tmp_path)
    sent = cli.json("send", str(source), "--approval", NHI, "--recipient", "kandagawa-print", "--profile",
                    "courier-cdr", "--password-delivery", "hand", "--notice", str(tmp_path / "notice.html"),
                    "--as", "w.kato", "--paper-ref", "書面 1")
    return SimpleNamespace(transfer=sent["transfer"], sha256=sent["sha256"], records=sent["records"],
                           passphrase=sent["passphrase"], notice=f"N-{sent['transfer']}", source=source)


def handover(cli: Cli, item: str, to: str, by: str, cabinet: str, *extra: str, check: bool = True,
             quantity: int = 1, command: str = "handover"):
    return cli("courier", command, item, "--to", to, "--place", "新宿区役所 本庁舎3階 医療保険年金課",
               "--quantity", str(quantity), "--cabinet", cabinet, "--as", by, "--paper-ref", "書面 1", *extra, check=check)


def report(cli: Cli, tmp_path: Path, approval: str, name: str = "bundle") -> dict:
    bundle = tmp_path / name
    cli("export", "evidence", "--approval", approval, "-o", str(bundle))
    policy = city_policy(cli.home)
    verified = run_audit("verify", str(bundle), trust=policy, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    rep = json.loads(run_audit("report", str(bundle), "--json", trust=policy).stdout)
    rep["bundle"] = bundle
    return rep


def serious(rep: dict) -> list[tuple[str, bool]]:
    """(kind, prevented) of every finding of severity warning or violation, sorted."""
    return sorted((f["kind"], f["prevented"]) for f in rep["findings"] if f["severity"] in ("warning", "violation"))


def evidence(rep: dict, kind: str) -> list[dict]:
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in (rep["bundle"] / "evidence").glob("*.json")]
    return sorted((d for d in docs if d["type"] == kind), key=lambda d: d["log_seq"])


def passphrase_of(html: Path) -> str:
    return re.search(r"<td class=\"passphrase\">([2-9A-Z-]+)</td>", html.read_text(encoding="utf-8")).group(1)
