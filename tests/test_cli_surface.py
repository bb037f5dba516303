"""Every command of INTERFACE.md exists; the ones not built yet refuse with exit 1, not pretend."""
import subprocess
import sys

import pytest

CONTRACT = [
    ["gateway", "init"],
    ["gateway", "serve"],
    ["gateway", "approval", "add"],
    ["gateway", "approval", "list"],
    ["gateway", "approval", "show"],
    ["gateway", "generate", "recipients"],
    ["gateway", "package", "encrypt"],
    ["gateway", "package", "decrypt"],
    ["gateway", "simulate"],
    ["gateway", "export", "evidence"],
    ["gateway", "demo"],
    ["audit", "verify"],
    ["audit", "report"],
    # the second wave (issue 17)
    ["gateway", "keys", "publish"],
    ["gateway", "witness", "add"],
    ["audit", "witness", "serve"],
    ["audit", "witness", "keygen"],
]


@pytest.mark.parametrize("argv", CONTRACT, ids=" ".join)
def test_command_exists(argv):
    entry = {"gateway": "gateway.cli", "audit": "audit.cli"}[argv[0]]
    proc = subprocess.run(
        [sys.executable, "-c", f"from {entry} import main; main()", *argv[1:], "--help"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Usage:" in proc.stdout
