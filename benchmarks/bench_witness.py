"""The witness's own rate: checkpoints cosigned per second by `audit witness serve`.

A real witness process on 127.0.0.1, one keep-alive connection, one checkpoint after another as a
log submits them: each request carries a consistency proof from the previous checkpoint, and each
answer waits for the new head to be fsynced, renamed and its directory fsynced. The requests are
built before the clock starts, so only the witness is timed (HTTP, note and proof checks, the
durable store, the cosignature).

Run: .venv/bin/pytest benchmarks/bench_witness.py --benchmark-only -o python_files='bench_*.py'
The figure is `extra_info.witness_checkpoints_per_s` (best round), with the CPU it ran on.
"""
from __future__ import annotations

import platform
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.audit.witness_process import Log, WitnessProcess, add_checkpoint, keygen  # noqa: E402

PER_ROUND = 200
ROUNDS = 5


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WitnessProcess, Log]]:
    tmp = tmp_path_factory.mktemp("witness-bench")
    key, _ = keygen(tmp)
    log = Log().grow(1)
    witness = WitnessProcess.start(key, tmp / "state", [log.signer.verifier], tmp / "witness.err")
    yield witness, log
    witness.stop()


def test_witness_checkpoints_per_second(benchmark, running: tuple[WitnessProcess, Log]) -> None:  # type: ignore[no-untyped-def]
    witness, log = running
    conn = witness.connect()
    assert add_checkpoint(conn, log.request(old=0)).status == 200

    def next_round() -> tuple[tuple[list[bytes]], dict[str, object]]:
        bodies = []
        for _ in range(PER_ROUND):
            old = len(log.leaves)
            log.grow(1)
            bodies.append(log.request(old=old))
        return (bodies,), {}

    def submit(bodies: list[bytes]) -> None:
        for body in bodies:
            reply = add_checkpoint(conn, body)
            assert reply.status == 200, reply.body

    benchmark.pedantic(submit, setup=next_round, rounds=ROUNDS, iterations=1)
    conn.close()
    best = benchmark.stats.stats.min
    benchmark.extra_info.update({
        "witness_checkpoints_per_s": round(PER_ROUND / best, 1),
        "witness_ms_per_checkpoint": round(best / PER_ROUND * 1000, 3),
        "checkpoints_per_round": PER_ROUND,
        "cpu": _cpu(),
    })
