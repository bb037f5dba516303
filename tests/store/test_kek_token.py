"""The KEK in a PKCS#11 token (SoftHSM2): it never leaves the token, rotation destroys it there,
and after an erasure no byte on disk opens the erased blob under any key the token still holds."""
from __future__ import annotations

import json
import secrets
from datetime import timedelta

import pkcs11
import pytest
from pkcs11 import Attribute, Mechanism, ObjectClass
from pkcs11.exceptions import AttributeSensitive, PKCS11Error, UserAlreadyLoggedIn
from pkcs11.mechanisms import GCMParams

from tests.conftest import REHEARSAL_START, move_clock, run_gateway
from tests.helpers import send
from tests.store.erasure import Unwrap, brute_force, erase_due, find_key, generations, on_disk, opens, sample, send_two, sqlite_files


def token_options(hsm, key_label: str) -> list[str]:
    return ["--kek-backend", "pkcs11", "--kek-module", hsm.module, "--kek-token-label", hsm.token_label,
            "--kek-pin-env", hsm.pin_env, "--kek-key-label", key_label]


@pytest.fixture
def key_label() -> str:
    return f"kek-{secrets.token_hex(4)}"


@pytest.fixture
def starts_on() -> str:
    return "pkcs11"


@pytest.fixture
def home(tmp_path, db_url, monkeypatch, softhsm, key_label, starts_on):
    """An installation whose KEK is in the token from `gateway init` on (or, with `starts_on`
    "file", one made with the default file backend, to be moved later)."""
    root = tmp_path / "home"
    monkeypatch.setenv("GATEWAY_HOME", str(root))
    monkeypatch.setenv("GATEWAY_DB_URL", db_url)
    start = {"GATEWAY_FAKE_NOW": REHEARSAL_START}
    if starts_on == "file":
        run_gateway("init", "--rehearsal", env=start)
    else:
        run_gateway("init", "--rehearsal", *token_options(softhsm, key_label), env=start)
    return root


def session(hsm):
    token = pkcs11.lib(hsm.module).get_token(token_label=hsm.token_label)
    try:
        return token.open(user_pin=hsm.pin)
    except UserAlreadyLoggedIn:  # this process's gateway code logged in already
        return token.open()


def token_keys(hsm, key_label: str) -> dict[str, object]:
    s = session(hsm)
    return {k.label: k for k in s.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY})
            if (k.label or "").startswith(f"{key_label}-")}


def token_unwrap(hsm, key_label: str) -> Unwrap:
    keys = list(token_keys(hsm, key_label).values())

    def unwrap(wrapped: bytes, aad: bytes) -> bool:
        for key in keys:
            try:
                key.decrypt(wrapped[12:], mechanism=Mechanism.AES_GCM,
                            mechanism_param=GCMParams(wrapped[:12], aad, 128))
                return True
            except PKCS11Error:
                continue
        return False
    return unwrap


def test_token_kek_send_download_erase_rotate_scan(kurume, home, tmp_path, monkeypatch, softhsm, key_label, request):
    assert not any((home / "keys" / "kek").glob("*.key")) if (home / "keys" / "kek").exists() else True
    toml = (home / "gateway.toml").read_text(encoding="utf-8")
    assert 'backend = "pkcs11"' in toml and softhsm.pin not in toml
    keys = token_keys(softhsm, key_label)
    assert list(keys) == [f"{key_label}-00000001"]
    kek = keys[f"{key_label}-00000001"]
    assert kek[Attribute.SENSITIVE] is True and kek[Attribute.EXTRACTABLE] is False
    with pytest.raises(AttributeSensitive):
        kek[Attribute.VALUE]

    erased, kept = send_two(kurume, tmp_path, monkeypatch)
    assert opens(erased, tmp_path, "erased-before") and opens(kept, tmp_path, "kept-before")
    sample(home, erased, kept)
    move_clock(erase_due(home, erased.transfer) + timedelta(seconds=1))  # the log's times never go back
    result = json.loads(run_gateway("retention", "sweep", "--json").stdout)
    assert result["erased"] == [erased.transfer]
    assert result["kek_rotation"] == {"generation": 2, "backend": "pkcs11", "rewrapped": 1,
                                      "destroyed": [1], "scrubbed": True}
    assert list(token_keys(softhsm, key_label)) == [f"{key_label}-00000002"]

    sample(home, kept)
    rotated = json.loads(run_gateway("keys", "rotate-kek", "--json").stdout)
    assert rotated == {"generation": 3, "backend": "pkcs11", "rewrapped": 1, "destroyed": [2], "scrubbed": True}
    assert list(token_keys(softhsm, key_label)) == [f"{key_label}-00000003"]
    assert generations(home) == [(1, "pkcs11", True, True), (2, "pkcs11", True, True), (3, "pkcs11", False, False)]

    unwrap = token_unwrap(softhsm, key_label)
    assert find_key(erased, on_disk(home, request), unwrap) == []
    assert brute_force(erased, sqlite_files(), unwrap) == []
    assert opens(kept, tmp_path, "kept-after")
    assert not opens(erased, tmp_path, "erased-after")


@pytest.mark.parametrize("starts_on", ["file"])
def test_an_installation_moves_its_kek_into_the_token(kurume, home, tmp_path, monkeypatch, softhsm, key_label):
    erased, kept = send_two(kurume, tmp_path, monkeypatch)
    assert (home / "keys" / "kek" / "00000001.key").exists()
    out = json.loads(run_gateway("init", *token_options(softhsm, key_label), "--json").stdout)
    assert "kek-pkcs11" in out["keys_created"]
    # The file generation is destroyed; both packages now open through the token's key.
    assert not any((home / "keys" / "kek").glob("*.key"))
    assert generations(home) == [(1, "file", True, True), (2, "pkcs11", False, False)]
    assert list(token_keys(softhsm, key_label)) == [f"{key_label}-00000002"]
    assert opens(erased, tmp_path, "first") and opens(kept, tmp_path, "second")
    # Running init again with the same options changes nothing.
    again = json.loads(run_gateway("init", *token_options(softhsm, key_label), "--json").stdout)
    assert again["keys_created"] == []


def test_a_wrong_pin_is_refused_with_a_message_that_says_what_to_do(kurume, home, softhsm, tmp_path, monkeypatch):
    monkeypatch.setenv(softhsm.pin_env, "0" * 8)
    proc = send(kurume, tmp_path, check=False)
    assert proc.returncode == 1
    ja, en = proc.stderr.strip().split("\n", 1)
    assert "PIN" in ja and "wrong PIN" in en and softhsm.pin not in proc.stderr
    # Nothing of the refused send is left: no transfer, and no blob file.
    monkeypatch.setenv(softhsm.pin_env, softhsm.pin)
    assert json.loads(run_gateway("log", "--json").stdout)[-1]["action"] != "transfer.send"
    assert not any(p.is_file() for p in (home / "blobs").rglob("*"))
