from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
APPROVALS = REPO / "simulations" / "approvals"
BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def _rehearsal_clock_restored():
    """`move_clock` sets GATEWAY_FAKE_NOW for the rest of a test; the next test starts as it was."""
    saved = os.environ.get("GATEWAY_FAKE_NOW")
    yield
    if saved is None:
        os.environ.pop("GATEWAY_FAKE_NOW", None)
    else:
        os.environ["GATEWAY_FAKE_NOW"] = saved


def move_clock(at) -> None:
    """Move a rehearsal home's clock to `at` for every later command of the test: the log's times
    never go back, so a command run "as of" a later time (a sweep's --now) moves time for good."""
    os.environ["GATEWAY_FAKE_NOW"] = at if isinstance(at, str) else at.isoformat()


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


# When the test homes begin: before every time the tests play (the log's times never go back).
REHEARSAL_START = "2019-04-01T09:00:00+09:00"


@pytest.fixture
def home(tmp_path, db_url, monkeypatch):
    """An initialised rehearsal home (it accepts GATEWAY_FAKE_NOW) on the backend of this test run,
    begun at REHEARSAL_START so that every time a test then sets lies after it."""
    root = tmp_path / "home"
    monkeypatch.setenv("GATEWAY_HOME", str(root))
    monkeypatch.setenv("GATEWAY_DB_URL", db_url)
    run_gateway("init", "--rehearsal", env={"GATEWAY_FAKE_NOW": REHEARSAL_START})
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
