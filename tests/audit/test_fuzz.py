"""Hostile bytes: `audit verify` never raises, never hangs, and never calls a mutated bundle good."""
from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.trust import load as load_policy
from audit.verify import verify
from tests.audit.bundle_builder import build_bundle, trust_path

_TEMPLATE = Path(tempfile.mkdtemp(prefix="audit-fuzz-")) / "bundle"
build_bundle(_TEMPLATE, scope=None, checkpoint_every=7)
FILES = sorted(p.relative_to(_TEMPLATE).as_posix() for p in _TEMPLATE.rglob("*") if p.is_file())
POLICY = load_policy(trust_path(_TEMPLATE))  # the verifier holds it; the mutated copies are judged by it
JSONL = ["log/entries.jsonl", "log/checkpoints.jsonl"]
JSON_FILES = [f for f in FILES if f.endswith(".json")]

GARBAGE = [
    b"", b"{", b"}", b"[]", b"{}", b"null", b"\"\"", b"{\"seq\":1}", b"\xff\xfe\x00",
    b"{\"seq\":" + b"9" * 5000 + b"}", b"{\"seq\":1e999}", b"{\"seq\":-0}", b"{\"seq\":1.5}", b"NaN",
    b"[" * 100_000 + b"]" * 100_000, b"{\"a\":" * 50_000 + b"1" + b"}" * 50_000,
    b"{\"seq\":1,\"seq\":1}", b"\"\\ud800\"", b"{\"redacted\":true,\"seq\":1,\"hash\":\"" + b"0" * 64 + b"\"}",
    b"\x00" * 1000, b"\r\n", b"{\"seq\":9007199254740993}",
]


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    shutil.rmtree(_TEMPLATE.parent, ignore_errors=True)


class Hang(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise Hang("audit verify took more than 20 s")


def check(mutate: object) -> None:
    """Copy the bundle, mutate it, verify with a hard time limit; the mutation must be caught."""
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(shutil.copytree(_TEMPLATE, Path(tmp) / "b"))
        changed = mutate(bundle)  # type: ignore[operator]
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(20)
        try:
            result = verify(bundle, POLICY)
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
        assert not any("internal error" in f.detail for f in result.failures), [f.line() for f in result.failures]
        if changed:
            assert not result.verified
        for f in result.failures:
            assert f.kind in ("log-tampered", "evidence-forged", "bundle")
            f.line()


FUZZ = settings(max_examples=120, deadline=10_000, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


@FUZZ
@given(st.sampled_from(FILES), st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_flip_a_byte(rel: str, pos: int, xor: int) -> None:
    def mutate(bundle: Path) -> bool:
        data = bytearray((bundle / rel).read_bytes())
        data[pos % len(data)] ^= xor
        (bundle / rel).write_bytes(bytes(data))
        return True
    check(mutate)


@FUZZ
@given(st.sampled_from(FILES), st.integers(min_value=0))
def test_truncate(rel: str, cut: int) -> None:
    def mutate(bundle: Path) -> bool:
        data = (bundle / rel).read_bytes()
        (bundle / rel).write_bytes(data[: cut % len(data)])
        return True
    check(mutate)


@FUZZ
@given(st.sampled_from(JSONL), st.integers(min_value=0), st.integers(min_value=0))
def test_duplicate_a_line(rel: str, n: int, at: int) -> None:
    def mutate(bundle: Path) -> bool:
        lines = (bundle / rel).read_bytes().split(b"\n")
        lines.insert(at % len(lines), lines[n % (len(lines) - 1)])
        (bundle / rel).write_bytes(b"\n".join(lines))
        return True
    check(mutate)


@FUZZ
@given(st.sampled_from(JSONL), st.sampled_from(GARBAGE), st.integers(min_value=0), st.booleans())
def test_insert_or_replace_garbage_line(rel: str, garbage: bytes, at: int, replace: bool) -> None:
    def mutate(bundle: Path) -> bool:
        lines = (bundle / rel).read_bytes().split(b"\n")
        i = at % (len(lines) - 1)
        if replace:
            lines[i] = garbage
        else:
            lines.insert(i, garbage)
        (bundle / rel).write_bytes(b"\n".join(lines))
        return True
    check(mutate)


@FUZZ
@given(st.sampled_from(JSON_FILES), st.sampled_from(GARBAGE))
def test_replace_a_json_file_with_garbage(rel: str, garbage: bytes) -> None:
    def mutate(bundle: Path) -> bool:
        (bundle / rel).write_bytes(garbage)
        return True
    check(mutate)


@FUZZ
@given(st.sampled_from(FILES + ["evidence/new.json", "log/extra.jsonl", "x"]),
       st.sampled_from([10**11, 70 << 30, 2 << 20, 300 << 10]))
def test_absurd_sizes(rel: str, size: int) -> None:
    """Sparse files far over every cap are refused by their size, before a byte is read."""
    def mutate(bundle: Path) -> bool:
        with open(bundle / rel, "ab") as f:
            f.truncate(size)
        return True
    check(mutate)


@FUZZ
@given(st.sampled_from(JSONL), st.integers(min_value=0), st.sampled_from([b"x", b"[", b"\\u0000", b" "]),
       st.integers(min_value=257 << 10, max_value=3 << 20))
def test_huge_line(rel: str, at: int, unit: bytes, length: int) -> None:
    def mutate(bundle: Path) -> bool:
        lines = (bundle / rel).read_bytes().split(b"\n")
        lines.insert(at % len(lines), unit * (length // len(unit)))
        (bundle / rel).write_bytes(b"\n".join(lines))
        return True
    check(mutate)


def test_unmutated_copy_verifies() -> None:
    check(lambda bundle: False)
    assert verify(_TEMPLATE, POLICY).verified


def test_special_files_never_block(tmp_path: Path) -> None:
    bundle = Path(shutil.copytree(_TEMPLATE, tmp_path / "b"))
    (bundle / "log" / "entries.jsonl").unlink()
    os.mkfifo(bundle / "log" / "entries.jsonl")
    result = verify(bundle, POLICY)
    assert not result.verified
