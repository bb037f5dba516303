"""Hostile input to every parser that reads what another party made (issue 19, the standing battery):
age packages, approval TOML, courier media images, recipient files. Each must refuse cleanly with
its own error (never another exception), within a bounded time, and leave no partial output.

`make test` runs a few hundred inputs; `make fuzz` sets GATEWAY_FUZZ_EXAMPLES higher. The counts
are written to test-output/fuzz/parsers.json.
"""
from __future__ import annotations

import io
import json
import os
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.core.approvals import parse_approval_text
from gateway.crypto import age
from gateway.errors import GatewayError
from tests.conftest import APPROVALS, REPO

EXAMPLES = int(os.environ.get("GATEWAY_FUZZ_EXAMPLES", "60"))
COUNTS: Counter[str] = Counter()
FAST = settings(max_examples=EXAMPLES, deadline=2000, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    out = REPO / "test-output" / "fuzz"
    out.mkdir(parents=True, exist_ok=True)
    (out / "parsers.json").write_text(json.dumps(dict(COUNTS), indent=2), encoding="utf-8")


def mutate(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """Apply (position, cut, insert) edits: flipped, dropped and injected bytes anywhere."""
    buf = bytearray(data)
    for pos, cut, insert in edits:
        at = pos % (len(buf) + 1)
        buf[at:at + cut] = insert
    return bytes(buf)


EDITS = st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 8), st.binary(max_size=8)), min_size=1, max_size=6)

# -- age packages -----------------------------------------------------------------------------

PASSPHRASE = "correct-horse-battery-staple"


@pytest.fixture(scope="module")
def package() -> bytes:
    out = io.BytesIO()
    age.encrypt(io.BytesIO(b"name,address\n" * 200), out, [age.ScryptRecipient(PASSPHRASE, 10)])
    return out.getvalue()


@FAST
@given(edits=EDITS)
def test_a_mutated_age_package_is_refused_cleanly(package: bytes, tmp_path_factory, edits) -> None:
    tmp = tmp_path_factory.mktemp("age")
    src, dst = tmp / "in.age", tmp / "out.csv"
    data = mutate(package, edits)
    src.write_bytes(data)
    COUNTS["age"] += 1
    try:
        age.decrypt_file(src, dst, passphrase=PASSPHRASE, max_work_factor=12)
    except age.AgeError:
        COUNTS["age-refused"] += 1
        assert not dst.exists()  # nothing of a file that did not authenticate
        return
    assert dst.read_bytes() == b"name,address\n" * 200  # a mutation that changed nothing meaningful


@FAST
@given(data=st.binary(max_size=4096))
def test_random_bytes_are_not_an_age_package(tmp_path_factory, data: bytes) -> None:
    tmp = tmp_path_factory.mktemp("agerand")
    (tmp / "in.age").write_bytes(b"age-encryption.org/v1\n" + data)
    COUNTS["age"] += 1
    with pytest.raises(age.AgeError):
        age.decrypt_file(tmp / "in.age", tmp / "out", passphrase=PASSPHRASE, max_work_factor=12)
    COUNTS["age-refused"] += 1
    assert not (tmp / "out").exists()


# -- approvals (TOML people write) -------------------------------------------------------------

APPROVAL = (APPROVALS / "kurume-2020-teigaku.toml").read_text(encoding="utf-8")


@FAST
@given(edits=EDITS)
def test_a_mutated_approval_is_refused_with_its_own_error(edits) -> None:
    text = mutate(APPROVAL.encode("utf-8"), edits).decode("utf-8", "replace")
    COUNTS["approval"] += 1
    try:
        parse_approval_text(text, "fuzz.toml")
    except GatewayError:
        COUNTS["approval-refused"] += 1


@pytest.mark.parametrize("text", [
    "a = " + "[" * 5000 + "]" * 5000,  # deep nesting
    "max_records = 99999999999999999999999999",
    "[period]\nstart = 1979-05-27T07:32:00Z\nend = 9999-12-31T23:59:59Z\n",
    "\x00" * 100,
])
def test_pathological_approvals_are_refused(text: str) -> None:
    COUNTS["approval"] += 1
    with pytest.raises(GatewayError):
        parse_approval_text(text, "fuzz.toml")
    COUNTS["approval-refused"] += 1


# -- courier media images ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    import hashlib

    from gateway.channels.courier.media import Part, _write_one, label

    root = tmp_path_factory.mktemp("iso")
    payload = os.urandom(20_000)
    digest = hashlib.sha256(payload).hexdigest()
    base = {"format": "gateway-media-label/1", "serial": "CD-1", "media": "cdr", "transfer": "T20200601-0000000000",
            "approval": "a", "approval_case_number": "c", "record_count": 1, "package_sha256": digest,
            "package_size": 20_000, "written_at": "x", "written_at_jst": "x"}
    part = Part(1, 1, 0, 20_000, digest)
    return _write_one(io.BytesIO(payload), part, label(base, part), "cdr", "CD-1", root)


@settings(max_examples=max(10, EXAMPLES // 3), deadline=5000, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(edits=EDITS)
def test_a_mutated_media_image_is_refused_cleanly(image: Path, tmp_path_factory, edits) -> None:
    from gateway.channels.courier.media import extract

    tmp = tmp_path_factory.mktemp("isofuzz")
    bad = tmp / "x.iso"
    data = image.read_bytes()
    # Edits land in the ISO's volume descriptors and directory records (the first 64 KiB).
    bad.write_bytes(mutate(data[:65536], edits) + data[65536:])
    COUNTS["iso"] += 1
    try:
        extract([bad], tmp / "out.age")
    except GatewayError:
        COUNTS["iso-refused"] += 1
        assert not (tmp / "out.age").exists()
