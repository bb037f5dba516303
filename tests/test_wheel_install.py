"""The wheel works anywhere: built from the source, installed into a fresh venv outside the
repository, and driven from another directory (issue 22: the profiles and scenarios once lived
at the repository root, so an installed gateway registered no profiles and found no scenario).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def _source_copy(dest: Path) -> Path:
    """The files git would ship (tracked and new, not ignored), so the build never writes into the checkout."""
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, names):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """bin/ of a fresh venv holding only the wheel and its dependencies."""
    work = tmp_path_factory.mktemp("wheel")
    source = _source_copy(work / "src")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work / "dist"),
                           str(source)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = (work / "dist").glob("lgwan_gateway-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in ("gateway/data/transfer_profiles/vpn-sftp.toml", "gateway/data/simulations/kurume-2020.toml",
                    "gateway/data/simulations/approvals/kurume-2020-teigaku.toml", "gateway/py.typed",
                    "audit/py.typed"):
        assert shipped in names, shipped
    assert any(n.endswith(".dist-info/LICENSE") or "/licenses/LICENSE" in n for n in names)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    proc = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return venv / "bin"


def _run(bin_dir: Path, cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(bin_dir / args[0]), *args[1:]], cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{args}: {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_the_installed_wheel_inits_adds_an_approval_simulates_and_verifies(installed, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # Nothing of the checkout may leak in: no PYTHONPATH, no editable install, a cwd outside it.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(GATEWAY_HOME=str(tmp_path / "home"), GATEWAY_SCRYPT_WORK_FACTOR="10")
    where = _run(installed, elsewhere, "python", "-c", "import gateway; print(gateway.__file__)", env=env).stdout
    assert not where.startswith(str(REPO)), where

    version = _run(installed, elsewhere, "gateway", "--version", env=env).stdout
    from gateway import __version__
    assert version.strip() == f"gateway {__version__}"

    init = json.loads(_run(installed, elsewhere, "gateway", "init", "--json", env=env).stdout)
    assert set(init["profiles_added"]) >= {"vpn-sftp", "lgwan-asp", "courier-cdr"}
    added = json.loads(_run(installed, elsewhere, "gateway", "approval", "add", "kurume-2020-teigaku", "--json",
                            env=env).stdout)
    assert added == {"id": "kurume-2020-teigaku", "added": True, "sha256": added["sha256"]}

    out = tmp_path / "run"
    result = json.loads(_run(installed, elsewhere, "gateway", "simulate", "shinjuku-nhi-cdr", "--records", "30",
                             "-o", str(out), "--json", env=env).stdout)
    assert result["findings"] == [] and result["transfers"] >= 1
    verify = _run(installed, elsewhere, "audit", "verify", result["bundle"], "--trust", result["trust"], "--json", env=env)
    assert json.loads(verify.stdout)["verified"] is True
