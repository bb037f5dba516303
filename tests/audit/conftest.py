from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from audit.trust import Policy
from audit.trust import load as load_policy
from tests.audit.bundle_builder import build_bundle, trust_path

BIN = Path(sys.executable).parent


def run_audit(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The installed `audit` console script, as a security officer runs it."""
    return subprocess.run([str(BIN / "audit"), *args], capture_output=True, text=True, timeout=timeout)


def trust(bundle: Path) -> list[str]:
    """The CLI arguments that pin the policy the builder left beside `bundle`."""
    return ["--trust", str(trust_path(bundle))]


def policy_of(bundle: Path) -> Policy:
    return load_policy(trust_path(bundle))


def report_json(bundle: Path) -> dict:
    """The report, through the Python API, under the bundle's own policy."""
    from audit.findings import build_report

    return build_report(bundle, policy_of(bundle)).to_json()


def copy_bundle(template: Path, to: Path) -> Path:
    """A copy of a built bundle, with the trust policy that belongs to it."""
    shutil.copytree(template, to)
    shutil.copyfile(trust_path(template), trust_path(to))
    return to


@pytest.fixture(scope="session")
def clean_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bundle(tmp_path_factory.mktemp("template") / "bundle")


@pytest.fixture(scope="session")
def scoped_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bundle(tmp_path_factory.mktemp("scoped") / "bundle", scope="kurume-2020-teigaku")


@pytest.fixture
def bundle(clean_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of a clean bundle each test may tamper with."""
    return copy_bundle(clean_template, tmp_path / "bundle")


@pytest.fixture
def scoped(scoped_template: Path, tmp_path: Path) -> Path:
    return copy_bundle(scoped_template, tmp_path / "scoped")


def failures(bundle: Path, *extra: str) -> list[dict]:
    """Through the CLI: exit 1 and the JSON failures."""
    pinned = trust(bundle) if trust_path(bundle).exists() else []  # a bundle that is not there has none
    proc = run_audit("verify", str(bundle), *pinned, "--json", *extra)
    out = json.loads(proc.stdout)
    assert proc.returncode == 1, proc.stdout
    assert out["verified"] is False
    assert out["failures"]
    return out["failures"]


def named(fs: list[dict], kind: str, file: str, *, where: str | None = None, detail: str = "") -> bool:
    return any(f["kind"] == kind and f["file"] == file and (where is None or f["where"] == where)
               and detail in f["detail"] for f in fs)
