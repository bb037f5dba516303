from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
APPROVALS = REPO / "gateway" / "data" / "simulations" / "approvals"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def postgres():
    from tests import postgres_server

    server = postgres_server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """Each database test runs on SQLite and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gateway.db'}"
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture
def home(tmp_path, db_url, monkeypatch):
    """An initialised gateway home on the backend of this test run."""
    root = tmp_path / "home"
    monkeypatch.setenv("GATEWAY_HOME", str(root))
    monkeypatch.setenv("GATEWAY_DB_URL", db_url)
    run_gateway("init")
    return root


def run_gateway(*args: str, check: bool = True, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    """The installed `gateway` console script, as an operator runs it."""
    proc = subprocess.run([str(BIN / "gateway"), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"gateway {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def run_audit(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(BIN / "audit"), *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"audit {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def shipped_approvals():
    return sorted(APPROVALS.glob("*.toml"))


def have(binary: str) -> bool:
    return shutil.which(binary) is not None
