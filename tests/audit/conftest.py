from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.audit.bundle_builder import build_bundle

BIN = Path(sys.executable).parent


def run_audit(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The installed `audit` console script, as a security officer runs it."""
    return subprocess.run([str(BIN / "audit"), *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def clean_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bundle(tmp_path_factory.mktemp("template") / "bundle")


@pytest.fixture(scope="session")
def scoped_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bundle(tmp_path_factory.mktemp("scoped") / "bundle", scope="kurume-2020-teigaku")


@pytest.fixture
def bundle(clean_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of a clean bundle each test may tamper with."""
    return Path(shutil.copytree(clean_template, tmp_path / "bundle"))


@pytest.fixture
def scoped(scoped_template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(scoped_template, tmp_path / "scoped"))
