"""Files we write open with the real `age`, and files `age` writes open with ours.

`age` reads passphrases only from a terminal, so it is driven through a pty with pexpect.
`age -p` always uses scrypt work factor 18 (about 1 s here); our own encryptions use a low work
factor, which `age -d` accepts, except where the CLI end to end is the point.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pexpect
import pytest

from gateway.crypto import age
from gateway.crypto.age.stream import CHUNK
from tests.conftest import run_gateway

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("age") is None or shutil.which("age-keygen") is None,
                       reason="the age and age-keygen binaries are not installed"),
]

PASSPHRASE = "N4XQ7-HTR2W-9KDPM-3FZCV-8YBJE-5GASU"
SIZES = {"empty": 0, "1B": 1, "64KiB": CHUNK, "128KiB": 2 * CHUNK, "64KiB+1": CHUNK + 1, "100MB": 100 * 10**6}
FAST = 10


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    if not path.exists() and path.suffix == ".out":
        # `age -d -o` opens its output lazily: an empty plaintext leaves no file behind.
        return digest.hexdigest()
    with path.open("rb") as src:
        while block := src.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def plaintexts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    root = tmp_path_factory.mktemp("plain")
    made = {}
    for name, size in SIZES.items():
        path = root / f"{name}.bin"
        with path.open("wb") as out:
            for start in range(0, size, 1 << 20):
                out.write(os.urandom(min(1 << 20, size - start)))
        made[name] = (path, sha256_of(path))
    return made


@pytest.fixture(scope="module")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    keyfile = tmp_path_factory.mktemp("keys") / "key.txt"
    subprocess.run(["age-keygen", "-o", str(keyfile)], check=True, capture_output=True)
    recipient = next(line.split(": ", 1)[1] for line in keyfile.read_text().splitlines()
                     if line.startswith("# public key: "))
    return keyfile, recipient


def age_pty(args: list[str], prompts: list[str], passphrase: str) -> None:
    child = pexpect.spawn("age", args, timeout=120)
    try:
        for prompt in prompts:
            child.expect_exact(prompt)
            child.sendline(passphrase)
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before


def age_encrypt_passphrase(src: Path, dst: Path) -> None:
    age_pty(["-p", "-o", str(dst), str(src)],
            ["Enter passphrase (leave empty to autogenerate a secure one):", "Confirm passphrase:"], PASSPHRASE)


def age_decrypt_passphrase(src: Path, dst: Path, passphrase: str = PASSPHRASE) -> None:
    age_pty(["-d", "-o", str(dst), str(src)], ["Enter passphrase:"], passphrase)


@pytest.mark.parametrize("size", list(SIZES))
def test_ours_to_age_passphrase(plaintexts, tmp_path: Path, size: str) -> None:
    plain, digest = plaintexts[size]
    enc, out = tmp_path / "f.age", tmp_path / "f.out"
    age.encrypt_file(plain, enc, passphrase=PASSPHRASE, work_factor=FAST)
    age_decrypt_passphrase(enc, out)
    assert sha256_of(out) == digest


@pytest.mark.parametrize("size", list(SIZES))
def test_age_to_ours_passphrase(plaintexts, tmp_path: Path, size: str) -> None:
    plain, digest = plaintexts[size]
    enc, out = tmp_path / "f.age", tmp_path / "f.out"
    age_encrypt_passphrase(plain, enc)
    assert age.decrypt_file(enc, out, passphrase=PASSPHRASE) == age.Digest(digest, SIZES[size])
    assert sha256_of(out) == digest


@pytest.mark.parametrize("size", list(SIZES))
def test_ours_to_age_x25519(plaintexts, keypair, tmp_path: Path, size: str) -> None:
    plain, digest = plaintexts[size]
    keyfile, recipient = keypair
    enc, out = tmp_path / "f.age", tmp_path / "f.out"
    age.encrypt_file(plain, enc, recipients=[age.X25519Recipient.parse(recipient)])
    subprocess.run(["age", "-d", "-i", str(keyfile), "-o", str(out), str(enc)], check=True)
    assert sha256_of(out) == digest


@pytest.mark.parametrize("size", list(SIZES))
def test_age_to_ours_x25519(plaintexts, keypair, tmp_path: Path, size: str) -> None:
    plain, digest = plaintexts[size]
    keyfile, recipient = keypair
    enc, out = tmp_path / "f.age", tmp_path / "f.out"
    subprocess.run(["age", "-r", recipient, "-o", str(enc), str(plain)], check=True)
    identities = age.parse_identity_file(keyfile.read_text())
    assert age.decrypt_file(enc, out, identities=identities).sha256 == digest
    assert sha256_of(out) == digest


def test_age_rejects_our_file_with_wrong_passphrase(plaintexts, tmp_path: Path) -> None:
    enc = tmp_path / "f.age"
    age.encrypt_file(plaintexts["1B"][0], enc, passphrase=PASSPHRASE, work_factor=FAST)
    child = pexpect.spawn("age", ["-d", "-o", str(tmp_path / "out"), str(enc)], timeout=60)
    child.expect_exact("Enter passphrase:")
    child.sendline("not it")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus != 0


def test_cli_end_to_end_with_age(plaintexts, tmp_path: Path) -> None:
    """`gateway package encrypt` (work factor 18) -> `age -d`, and `age -p` -> `gateway package decrypt`."""
    plain, digest = plaintexts["64KiB+1"]
    passfile = tmp_path / "pass.txt"
    passfile.write_text(PASSPHRASE + "\n")
    ours = tmp_path / "ours.age"
    run_gateway("package", "encrypt", str(plain), "-o", str(ours), "--passphrase-file", str(passfile))
    age_decrypt_passphrase(ours, tmp_path / "ours.out")
    assert sha256_of(tmp_path / "ours.out") == digest

    theirs = tmp_path / "theirs.age"
    age_encrypt_passphrase(plain, theirs)
    proc = run_gateway("package", "decrypt", str(theirs), "-o", str(tmp_path / "theirs.out"),
                       "--passphrase-file", str(passfile))
    assert f"sha256: {digest}" in proc.stdout and f"bytes: {CHUNK + 1}" in proc.stdout
