"""Our SFTP server (`gateway serve --sftp-port`) against OpenSSH sshd, same files, same run, both
driven by the stock OpenSSH `sftp` client.

Run:  .venv/bin/pytest benchmarks/bench_sftp.py -q -s -o python_files='bench_*.py' --benchmark-only
 or:  .venv/bin/python benchmarks/bench_sftp.py
Upload: a 50 MB file `put` to `/inbox/<transfer>.bench.bin` on ours (timed until the client's close
returns, so it includes what the gateway does with a deliverable: fsync, encryption at rest, the log
entry) and to a directory on sshd. Download: the transfer's age package (about 50 MB, from
BENCH_SFTP_RECORDS records) `get` from `/outbox/` on ours (the at-rest copy decrypted, the download
logged) and the same bytes from sshd. Each figure is the best of three runs, less the client's own
connection set-up (measured apart with `pwd`). Targets: ours >= 50% of sshd's throughput for
uploads, >= 80% for downloads.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from gateway.simulate.opensshd import OpenSshd, keygen  # noqa: E402

BIN = Path(sys.executable).parent
RECORDS = int(os.environ.get("BENCH_SFTP_RECORDS", "305115"))  # Kurume 2020 at full size (under the 310,000 bound)
UPLOAD_BYTES = 50 * 10**6
ROUNDS = 3
MB = 10**6
TARGETS = {"upload": 0.5, "download": 0.8}

pytestmark = pytest.mark.skipif(not Path("/usr/sbin/sshd").exists() or shutil.which("sftp") is None,
                                reason="needs OpenSSH (sshd and sftp)")


def gateway(*args: str, env: dict[str, str]) -> str:
    proc = subprocess.run([str(BIN / "gateway"), *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"gateway {' '.join(args)}: {proc.stderr}")
    return proc.stdout


def sftp(port: int, key: Path, user: str, known_hosts: Path, batch: str) -> float:
    start = time.perf_counter()
    subprocess.run(["sftp", "-q", "-b", "-", "-P", str(port), "-i", str(key), "-o", "IdentitiesOnly=yes",
                    "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
                    "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", f"{user}@127.0.0.1"],
                   input=batch.encode(), check=True, capture_output=True)
    return time.perf_counter() - start


def best(port: int, key: Path, user: str, known: Path, batch: str, connect: float) -> float:
    return min(sftp(port, key, user, known, batch) for _ in range(ROUNDS)) - connect


def run(tmp: Path) -> dict[str, Any]:
    home = tmp / "home"
    env = {**os.environ, "GATEWAY_HOME": str(home), "GATEWAY_FAKE_NOW": "2020-06-01T10:00:00+09:00",
           "GATEWAY_SCRYPT_WORK_FACTOR": "10"}
    env.pop("GATEWAY_DB_URL", None)
    gateway("init", env=env)
    gateway("approval", "add", str(REPO / "simulations" / "approvals" / "kurume-2020-teigaku.toml"), env=env)
    gateway("user", "add", "s.staff", "--org", "kurume", "--role", "staff", "--name", "職員", env=env)
    key = keygen(tmp / "client")
    gateway("user", "add-key", "k.tanaka", f"{key}.pub", env=env)
    source = tmp / "recipients.csv"
    gateway("generate", "recipients", "--count", str(RECORDS), "--seed", "1", "-o", str(source), env=env)
    sent = json.loads(gateway("send", str(source), "--approval", "kurume-2020-teigaku", "--recipient",
                              "chikugo-print", "--profile", "vpn-sftp", "--password-delivery", "registered-mail",
                              "--as", "s.staff", "--json", env=env))
    transfer = sent["transfer"]
    upload = tmp / "upload.bin"
    upload.write_bytes(os.urandom(UPLOAD_BYTES))

    serve = subprocess.Popen([str(BIN / "gateway"), "serve", "--sftp-port", "0"], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    sshd = OpenSshd.create(tmp / "sshd")
    sshd.authorize(Path(f"{key}.pub").read_text())
    try:
        assert serve.stdout is not None
        ours = int(re.search(r":(\d+)", serve.stdout.readline()).group(1))  # type: ignore[union-attr]
        sshd.start()
        known = tmp / "known_hosts"
        ours_key = " ".join((home / "keys" / "ssh_host_ed25519_key.pub").read_text().split()[:2])
        known.write_text(f"[127.0.0.1]:{ours} {ours_key}\n[127.0.0.1]:{sshd.port} {sshd.host_key_line()}\n")
        remote = tmp / "remote"
        remote.mkdir()

        # The package as ours serves it, fetched once, is the file sshd serves.
        package = tmp / "package.age"
        sftp(ours, key, "k.tanaka", known, f"get /outbox/{transfer}.age {package}\n")
        shutil.copy(package, remote / "package.age")
        size = package.stat().st_size

        c_ours = min(sftp(ours, key, "k.tanaka", known, "pwd\n") for _ in range(ROUNDS))
        c_sshd = min(sftp(sshd.port, key, sshd.user, known, "pwd\n") for _ in range(ROUNDS))
        get_ours = best(ours, key, "k.tanaka", known, f"get /outbox/{transfer}.age {tmp / 'o.age'}\n", c_ours)
        get_sshd = best(sshd.port, key, sshd.user, known, f"get {remote / 'package.age'} {tmp / 's.age'}\n", c_sshd)
        put_ours = best(ours, key, "k.tanaka", known, f"put {upload} /inbox/{transfer}.bench.bin\n", c_ours)
        put_sshd = best(sshd.port, key, sshd.user, known, f"put {upload} {remote / 'u.bin'}\n", c_sshd)
    finally:
        sshd.stop()
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)
    result = {
        "records": RECORDS, "package_mb": round(size / MB, 1), "upload_mb": UPLOAD_BYTES // MB,
        "connect_ours_s": round(c_ours, 3), "connect_sshd_s": round(c_sshd, 3),
        "download_ours_mb_s": round(size / MB / get_ours, 1), "download_sshd_mb_s": round(size / MB / get_sshd, 1),
        "upload_ours_mb_s": round(UPLOAD_BYTES / MB / put_ours, 1),
        "upload_sshd_mb_s": round(UPLOAD_BYTES / MB / put_sshd, 1),
    }
    result["upload_ratio"] = round(put_sshd / put_ours, 2)  # ours' throughput as a share of sshd's
    result["download_ratio"] = round(get_sshd / get_ours, 2)
    result["targets"] = {k: f"{'met' if result[f'{k}_ratio'] >= v else 'MISSED'} (>= {v})" for k, v in TARGETS.items()}
    return result


def test_sftp_vs_openssh(benchmark, tmp_path: Path) -> None:
    result = benchmark.pedantic(run, args=(tmp_path,), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    print("\nsftp (ours) vs OpenSSH sshd:", json.dumps(result, indent=1))


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        print(json.dumps(run(Path(d)), indent=1))
