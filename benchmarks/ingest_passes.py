"""Server-side cost of taking in an upload that is kept as it came (a deliverable): staged in the
work area then re-read into the blob store (the old way, still SFTP's) against straight into the
blob store as it arrives (the portal's now). Same bytes, same 64 KiB pieces as a multipart
parser hands them, alternating rounds in one process; prints the medians and their ratio.

    .venv/bin/python benchmarks/ingest_passes.py [--mb 44] [--rounds 5]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

from gateway.clock import JST
from gateway.crypto.kek import Keyring
from gateway.crypto.sealed import SealedFile
from gateway.store.blobs import BlobStore

PIECE = 64 * 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=44)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    data = os.urandom(args.mb * 10**6)
    at = datetime(2020, 6, 1, 10, tzinfo=JST)  # a row time only; the rows are never recorded
    with tempfile.TemporaryDirectory(prefix="ingest-") as name:
        root = Path(name)
        store = BlobStore(root / "blobs", Keyring.__new__(Keyring))  # rows are never recorded here
        work = root / "work"
        work.mkdir()

        def staged_then_copied() -> None:
            sealed = SealedFile(work / "x.upload")
            for i in range(0, len(data), PIECE):
                sealed.write(data[i:i + PIECE])
            sealed.finish()
            with sealed.open("rb") as src:
                blob = store.write(src, at=at)
            sealed.discard()
            store.remove_file(blob.id)

        def streamed() -> None:
            out = store.writer(at=at)
            for i in range(0, len(data), PIECE):
                out.write(data[i:i + PIECE])
            blob = out.finish()
            store.remove_file(blob.id)

        times: dict[str, list[float]] = {"staged_then_copied_s": [], "streamed_s": []}
        for _ in range(args.rounds):
            for key, fn in (("staged_then_copied_s", staged_then_copied), ("streamed_s", streamed)):
                t0 = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t0)
    med = {k: round(statistics.median(v), 3) for k, v in times.items()}
    print(json.dumps({"mb": args.mb, "rounds": args.rounds, **med,
                      "ratio_streamed_to_staged": round(med["streamed_s"] / med["staged_then_copied_s"], 2),
                      "load_average_1min": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
