"""What a KEK rotation costs: seconds to re-wrap N live data keys and destroy the old generation.

    .venv/bin/python benchmarks/kek_rotation.py --blobs 10000
    GATEWAY_DB_URL=postgresql+psycopg://... .venv/bin/python benchmarks/kek_rotation.py --blobs 10000

It makes a fresh installation in a temporary directory, records N small blobs through the real
write path (file, fsync, row, key wrapped in the recording transaction), erases one, and times
the rotation the next sweep would run. A standalone script rather than a `make bench` module:
a rotation happens once per sweep with erasures, and its cost is what an operator needs to plan
the sweep's window, not a ratio to hold across releases. `--kek-*` options put the KEK in a
PKCS#11 token (as `gateway init` takes them; the PIN from the environment variable named).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from gateway import installation
from gateway.clock import Clock
from gateway.crypto.kek.config import KekConfig
from gateway.home import Home
from gateway.service import Gateway
from gateway import kek_rotation
from gateway.store.blobs import BlobStore

BATCH = 500  # blobs recorded per transaction while filling


def cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--blobs", type=int, default=10_000)
    ap.add_argument("--kek-backend", choices=["file", "pkcs11"], default="file")
    ap.add_argument("--kek-module")
    ap.add_argument("--kek-token-label")
    ap.add_argument("--kek-pin-env")
    args = ap.parse_args()
    clock = Clock()
    with tempfile.TemporaryDirectory(prefix="kek-rotation-") as tmp:
        home = Home(Path(tmp) / "home")
        kek = None
        if args.kek_backend == "pkcs11":
            kek = KekConfig(backend="pkcs11", module=args.kek_module, token_label=args.kek_token_label,
                            pin_env=args.kek_pin_env, key_label=f"bench-{os.getpid()}")
        installation.init(home, at=clock.now(), kek=kek)
        gw = Gateway.open(home, clock)
        blobs = BlobStore(gw.home.blobs, gw.keys.kek())
        t0 = time.perf_counter()
        ids = []
        for start in range(0, args.blobs, BATCH):
            staged = [blobs.write(io.BytesIO(os.urandom(64)), at=clock.now())
                      for _ in range(min(BATCH, args.blobs - start))]
            with gw.unit() as s:
                s.add_all(staged)
            ids += [b.id for b in staged]
        fill = time.perf_counter() - t0
        with gw.unit() as s:
            blobs.crypto_erase(s, ids[0], at=clock.now())
        blobs.remove_file(ids[0])
        t0 = time.perf_counter()
        result = kek_rotation.rotate(gw.engine, gw.ledger, gw.keys.kek(), now=clock.now())
        seconds = time.perf_counter() - t0
        assert result is not None and result.rewrapped == args.blobs - 1
        probe = io.BytesIO()
        with gw.read() as s:
            blobs.copy_to(s, ids[-1], probe)  # still opens under the new generation
        gw.close()
        print(json.dumps({
            "database": gw.engine.dialect.name, "kek_backend": args.kek_backend, "live_keys": result.rewrapped,
            "rotation_seconds": round(seconds, 3), "us_per_key": round(seconds / result.rewrapped * 1e6, 1),
            "fill_seconds": round(fill, 1), "cpu": cpu(), "cores": os.cpu_count(),
            "load_1min": round(os.getloadavg()[0], 2),
        }))


if __name__ == "__main__":
    main()
