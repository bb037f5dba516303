"""Our age implementation against the `age` binary on the same ~100 MB file, and peak RSS on 1 GB.

Run: .venv/bin/pytest benchmarks/bench_age.py --benchmark-only
Both sides use an X25519 recipient so scrypt's deliberate cost does not hide the stream cost.
Targets: ours within 2x of age's time; decrypting 1 GB peaks under 100 MB RSS.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from gateway.crypto import age

SIZE = 100 * 10**6
BIG = 10**9
RSS_TARGET_MB = 100
RATIO_TARGET = 2.0
MB = 10**6

pytestmark = pytest.mark.skipif(shutil.which("age") is None, reason="the age binary is not installed")

_medians: dict[tuple[str, str], float] = {}


class RandomSource:
    """`total` random bytes, produced on demand so no plaintext file is needed."""

    def __init__(self, total: int) -> None:
        self.left = total

    def read(self, size: int = -1) -> bytes:
        n = min(size if size >= 0 else 1 << 20, self.left)
        self.left -= n
        return os.urandom(n)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    keyfile = tmp_path_factory.mktemp("keys") / "key.txt"
    subprocess.run(["age-keygen", "-o", str(keyfile)], check=True, capture_output=True)
    recipient = next(line.split(": ", 1)[1] for line in keyfile.read_text().splitlines()
                     if line.startswith("# public key: "))
    return keyfile, recipient


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, keys: tuple[Path, str]) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bench")
    plain = root / "plain.bin"
    with plain.open("wb") as out:
        age_src = RandomSource(SIZE)
        while block := age_src.read(1 << 20):
            out.write(block)
    cipher = root / "cipher.age"
    # One ciphertext, written by age, is decrypted by both implementations.
    subprocess.run(["age", "-r", keys[1], "-o", str(cipher), str(plain)], check=True)
    return {"root": root, "plain": plain, "cipher": cipher}


def _record(benchmark, op: str, impl: str, size: int) -> None:
    median = benchmark.stats.stats.median
    _medians[(op, impl)] = median
    benchmark.extra_info["bytes"] = size
    benchmark.extra_info["MB_per_s"] = round(size / median / MB, 1)
    other = _medians.get((op, "age" if impl == "ours" else "ours"))
    if other is not None:
        ours, theirs = (median, other) if impl == "ours" else (other, median)
        ratio = ours / theirs
        benchmark.extra_info["ours_over_age_time"] = round(ratio, 2)
        if ratio > RATIO_TARGET:
            warnings.warn(f"{op}: ours takes {ratio:.2f}x age's time (target {RATIO_TARGET}x)")


@pytest.mark.parametrize("impl", ["ours", "age"])
def test_encrypt(benchmark, files, keys, impl: str) -> None:
    out = files["root"] / f"enc-{impl}.age"
    recipient = keys[1]
    if impl == "ours":
        parsed = age.X25519Recipient.parse(recipient)
        run = lambda: age.encrypt_file(files["plain"], out, recipients=[parsed])  # noqa: E731
    else:
        run = lambda: subprocess.run(["age", "-r", recipient, "-o", str(out), str(files["plain"])], check=True)  # noqa: E731
    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    _record(benchmark, "encrypt", impl, SIZE)
    out.unlink()


@pytest.mark.parametrize("impl", ["ours", "age"])
def test_decrypt(benchmark, files, keys, impl: str) -> None:
    out = files["root"] / f"dec-{impl}.bin"
    keyfile = keys[0]
    if impl == "ours":
        identities = age.parse_identity_file(keyfile.read_text())
        run = lambda: age.decrypt_file(files["cipher"], out, identities=identities)  # noqa: E731
    else:
        run = lambda: subprocess.run(["age", "-d", "-i", str(keyfile), "-o", str(out), str(files["cipher"])], check=True)  # noqa: E731
    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    _record(benchmark, "decrypt", impl, SIZE)
    assert out.stat().st_size == SIZE
    out.unlink()


# Runs in a fresh interpreter that starts the decryption as its only child, so RUSAGE_CHILDREN
# sees that process alone and not the age binaries or pytest's own memory.
_MEASURE = r"""
import resource, subprocess, sys
subprocess.run([sys.executable, "-c", sys.argv[1], *sys.argv[2:]], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""
_DECRYPT = r"""
import sys
from gateway.crypto import age
ids = age.parse_identity_file(open(sys.argv[3]).read())
age.decrypt_file(sys.argv[1], sys.argv[2], identities=ids)
"""
_BASELINE = "from gateway.crypto import age"


def _peak_rss_kib(*argv: str) -> int:
    proc = subprocess.run([sys.executable, "-c", _MEASURE, *argv], check=True, capture_output=True, text=True)
    return int(proc.stdout.strip())


def test_decrypt_1gb_peak_rss(benchmark, tmp_path: Path, keys) -> None:
    keyfile, recipient = keys
    cipher, out = tmp_path / "big.age", tmp_path / "big.bin"
    with cipher.open("wb") as dst:
        age.encrypt(RandomSource(BIG), dst, [age.X25519Recipient.parse(recipient)])  # type: ignore[arg-type]
    try:
        peak_kib = benchmark.pedantic(
            _peak_rss_kib, args=(_DECRYPT, str(cipher), str(out), str(keyfile)), rounds=1, iterations=1)
        assert out.stat().st_size == BIG
    finally:
        cipher.unlink()
        out.unlink(missing_ok=True)
    baseline_kib = _peak_rss_kib(_BASELINE)
    benchmark.extra_info["bytes"] = BIG
    benchmark.extra_info["peak_rss_MB"] = round(peak_kib / 1024, 1)
    benchmark.extra_info["interpreter_and_imports_rss_MB"] = round(baseline_kib / 1024, 1)
    benchmark.extra_info["MB_per_s"] = round(BIG / benchmark.stats.stats.median / MB, 1)
    assert peak_kib / 1024 < RSS_TARGET_MB
