from __future__ import annotations

import glob
import secrets
import shutil
import subprocess
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class SoftHsm:
    module: str
    token_label: str
    pin: str
    pin_env: str


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory):
    """One SoftHSM2 token for the session, in a temporary directory, with PINs made now.

    Session-wide because a process reads SOFTHSM2_CONF once, when it first initialises the
    library: each test keeps its keys apart with a key label of its own."""
    modules = sorted(glob.glob("/usr/lib/softhsm/libsofthsm2.so") + glob.glob("/usr/lib/*/softhsm/libsofthsm2.so"))
    if shutil.which("softhsm2-util") is None or not modules:
        pytest.skip("SoftHSM2 is not installed: run `make setup` (installs softhsm2)")
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    label, pin, so_pin = f"gw-{secrets.token_hex(4)}", secrets.token_hex(8), secrets.token_hex(8)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        mp.setenv("GATEWAY_TEST_KEK_PIN", pin)
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", so_pin, "--pin", pin],
                       check=True, capture_output=True)
        yield SoftHsm(modules[0], label, pin, "GATEWAY_TEST_KEK_PIN")
