from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
APPROVALS = REPO / "gateway" / "data" / "simulations" / "approvals"
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
    from gateway.cluster import postgres as postgres_server

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


def run_audit(*args: str, trust: Path | None, check: bool = True) -> subprocess.CompletedProcess:
    """The installed `audit` console script. Every call says which trust policy it verifies under
    (`trust=None` only where a test is about what happens without one)."""
    argv = [*args, "--trust", str(trust)] if trust is not None else list(args)
    env = {k: v for k, v in os.environ.items() if k != "AUDIT_TRUST"}
    proc = subprocess.run([str(BIN / "audit"), *argv], capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"audit {' '.join(argv)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def city_policy(home: Path, to: Path | None = None) -> Path:
    """The trust policy a verifier holds for the installation at `home`: the log's origin and the
    city's verifier keys as `gateway keys show --json` prints them, and the witnesses (with a
    majority quorum) as `gateway witness list --json` does. Read-only, so tests that count log
    entries are not disturbed; `gateway keys publish` (which logs its act) writes the same policy
    and has tests of its own."""
    from tests.audit.bundle_builder import policy_toml

    env = {"GATEWAY_HOME": str(home)}
    keys = json.loads(run_gateway("keys", "show", "--json", env=env).stdout)
    witnesses = [w["key"] for w in json.loads(run_gateway("witness", "list", "--json", env=env).stdout)]
    to = to or home.parent / "city.trust.toml"
    quorum = len(witnesses) // 2 + 1 if witnesses else 0
    to.write_text(policy_toml(keys["origin"], keys["verifier_keys"], witnesses, quorum), encoding="utf-8")
    return to


@pytest.fixture
def shipped_approvals():
    return sorted(APPROVALS.glob("*.toml"))


def have(binary: str) -> bool:
    return shutil.which(binary) is not None


IN_PERIOD = "2020-06-01T10:00:00+09:00"


@pytest.fixture
def kurume(home, monkeypatch, tmp_path):
    """An installation with the Kurume approval, a staff account and a 300-record file."""
    monkeypatch.setenv("GATEWAY_FAKE_NOW", IN_PERIOD)
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")  # interop at 18 is tested with age itself
    run_gateway("approval", "add", str(APPROVALS / "kurume-2020-teigaku.toml"))
    run_gateway("user", "add", "s.staff", "--org", "kurume", "--role", "staff", "--name", "職員 一郎")
    run_gateway("user", "add", "x.outsider", "--org", "chikugo-print", "--role", "contractor", "--name", "部外 者")
    source = tmp_path / "recipients.csv"
    run_gateway("generate", "recipients", "--count", "300", "--schema", "kurume-2020", "--seed", "7", "-o", str(source))
    return source
