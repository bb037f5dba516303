"""How a whole hand-over grows with the batch: 30k to 3M records, time and peak RSS.

Each size runs in a fresh process (so peak RSS is that hand-over's alone): the staff send
(validate, minimise, manifest, encrypt at scrypt 2^18, store encrypted at rest, evidence), the
designated handler's fetch, decrypt, count and receipt. Time should grow linearly in records and
memory should stay flat; `rss_growth_300k_3m` states it (peak RSS at 3M / at 300k).

Run: .venv/bin/pytest benchmarks/bench_scaling.py --benchmark-only -o python_files='bench_*.py'
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gateway.synthetic import generate_recipients

SIZES = (30_000, 100_000, 300_000, 1_000_000, 3_000_000)
# Kurume's approval bounds a batch at 310,000 records; this copy allows the 1M and 3M runs.
APPROVAL = Path(__file__).resolve().parent / "data" / "approval-scaling.toml"

HANDOVER = textwrap.dedent('''
    import json, sys, time
    from pathlib import Path
    from gateway.clock import FixedClock, JST
    from datetime import datetime
    from gateway import installation
    from gateway.home import Home
    from gateway.service import Gateway
    from gateway.store.registry import register_approval
    from gateway.operations.accounts import Caller, add_user
    from gateway.operations.send import SendRequest, send
    from gateway.operations.receive import download, confirm_receipt
    from gateway.core.records.reader import scan
    from gateway.crypto import age
    from gateway.fsutil import atomic_output

    def peak_rss_mb():
        # VmHWM, not getrusage's ru_maxrss: Linux carries the parent's resident set at fork
        # into the child's ru_maxrss across exec, so every size reported pytest's own peak.
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024

    source, home_dir, approval = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    clock = FixedClock(datetime(2020, 6, 1, 10, tzinfo=JST))
    home = Home(home_dir)
    installation.init(home, rehearsal=True, clock=clock)
    with Gateway.open(home, clock) as gw:
        with gw.unit() as s:
            register_approval(s, approval, actor="bench", at=clock.now())
            add_user(s, login="bench.staff", name="bench", org="kurume", role="staff", at=clock.now())
        t0 = time.perf_counter()
        sent = send(gw, Caller("bench.staff", "cli"), SendRequest(source, "bench-scaling", "vpn-sftp",
                                                                 "chikugo-print", "registered-mail"))
        t1 = time.perf_counter()
        package = home_dir / "package.age"
        with atomic_output(package) as out:
            download(gw, Caller("k.tanaka", "cli"), sent.transfer, out)
        plain = home_dir / "plain.csv"
        digest = age.decrypt_file(package, plain, passphrase=sent.passphrase)
        count = scan(plain).record_count
        # Filed as the portal's receipt is, from the handler's designated terminal: an unsigned
        # receipt from any other channel is refused since the attestations landed.
        confirm_receipt(gw, Caller("k.tanaka", "lgwan-asp", terminal="bench-terminal"), sent.transfer,
                        record_count=count, sha256=digest.sha256)
        t2 = time.perf_counter()
    print(json.dumps({"send_seconds": t1 - t0, "receive_seconds": t2 - t1, "seconds": t2 - t0,
                      "records": count, "peak_rss_mb": peak_rss_mb()}))
''')


def handover(source: Path, home: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", HANDOVER, str(source), str(home), str(APPROVAL)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"the hand-over of {source} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("records", SIZES)
def test_handover_scaling(benchmark, tmp_path_factory, records):
    directory = tmp_path_factory.mktemp(f"scale-{records}")
    source = directory / "kurume.csv"
    generate_recipients(source, count=records, schema="kurume-2020", encoding="cp932", seed=2020)
    runs = []

    def once() -> None:
        home = directory / f"home-{len(runs)}"
        runs.append(handover(source, home))

    benchmark.pedantic(once, rounds=1, iterations=1)
    result = runs[-1]
    assert result["records"] == records
    benchmark.extra_info.update({
        "records": records,
        "seconds": round(result["seconds"], 2),
        "send_seconds": round(result["send_seconds"], 2),
        "receive_seconds": round(result["receive_seconds"], 2),
        "records_per_second": round(records / result["seconds"]),
        "peak_rss_mb": round(result["peak_rss_mb"], 1),
    })


KDF_ONLY = textwrap.dedent('''
    from gateway.crypto.age.scrypt import ScryptRecipient
    ScryptRecipient("correct horse battery staple", 18).wrap(b"\\0" * 16)
    print(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024)
''')


def test_kdf_floor(benchmark):
    """The memory scrypt itself needs at work factor 18 (128 * r * N = 256 MiB), with nothing else:
    the floor under every hand-over's peak RSS, measured in the same run."""
    runs: list[float] = []

    def once() -> None:
        out = subprocess.run([sys.executable, "-c", KDF_ONLY], capture_output=True, text=True, check=True)
        runs.append(float(out.stdout.strip().splitlines()[-1]))

    benchmark.pedantic(once, rounds=1, iterations=1)
    benchmark.extra_info["peak_rss_mb"] = round(runs[-1], 1)
