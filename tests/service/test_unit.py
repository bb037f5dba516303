"""deploy/gateway.service (issue 22, item 2): hardened, accepted by systemd's own checker, and its
command line, run as systemd would run it, starts, says READY=1 and stops cleanly within the
unit's stop timeout."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time

import pytest

from tests.conftest import BIN, REPO

UNIT = REPO / "deploy" / "gateway.service"
HARDENING = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
    "PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes", "RestrictNamespaces": "yes", "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes", "CapabilityBoundingSet": "", "SystemCallArchitectures": "native", "UMask": "0077",
}


def directives() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_the_unit_is_hardened_and_waits_for_readiness():
    unit = directives()
    for key, value in HARDENING.items():
        assert unit.get(key) == [value], key
    assert unit["Type"] == ["notify"]
    grace = float(re.search(r"--grace (\d+)", unit["ExecStart"][0]).group(1))
    assert float(unit["TimeoutStopSec"][0]) > grace  # systemd never kills a stop that is finishing transfers
    assert "--home /var/lib/gateway" in unit["ExecStart"][0] and unit["StateDirectory"] == ["gateway"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_accepts_the_unit_and_rates_its_exposure_low(tmp_path):
    unit = tmp_path / "gateway.service"
    unit.write_text(UNIT.read_text().replace("/opt/gateway/bin/gateway", str(BIN / "gateway")))
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr
    security = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)],
                              capture_output=True, text=True, timeout=60)
    exposure = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout).group(1))
    assert exposure <= 2.0, security.stdout  # systemd's scale: 0 (locked down) to 10 (unprotected)


def test_the_units_command_line_runs_under_supervision(serving, installation, today_home, monkeypatch):
    monkeypatch.delenv("GATEWAY_FAKE_NOW", raising=False)  # today_home is a production home: the real clock
    argv = shlex.split(directives()["ExecStart"][0])
    assert argv[0] == "/opt/gateway/bin/gateway"
    args = [a if a != "/var/lib/gateway" else str(today_home) for a in argv[1:]]
    args = [("0" if prev.endswith("-port") else a) for prev, a in zip(["", *args[:-1]], args, strict=True)]
    args[args.index("--bind") + 1] = "127.0.0.1"
    assert args[:3] == ["--home", str(today_home), "serve"]
    service = serving(*args[3:], home=today_home)
    assert set(service.ports) == {"sftp", "portal", "help", "monitor"}
    assert service.get("/healthz")[0] == 200
    began = time.monotonic()
    code, oplog, rest = service.stop(timeout=45)
    assert code == 0, rest
    assert time.monotonic() - began < float(directives()["TimeoutStopSec"][0])
    assert [line["msg"] for line in oplog][-2:] == ["stopping", "stopped"]
