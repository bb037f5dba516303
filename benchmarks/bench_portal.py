"""Portal upload and download throughput against OpenSSH `sftp` on the same file, in the same run.

Run: .venv/bin/pytest benchmarks/bench_portal.py -q -s -o python_files='bench_*.py' --benchmark-only
The file is the Kurume size (300k records, about 44 MB as CP932 CSV; its age package is about the
same). Portal upload is timed end to end through POST /api/v1/transfers, so it includes what the
gateway does with an upload (streaming validation, minimisation, age encryption, the at-rest copy);
the upload-only part is reported too. Portal download is GET .../package (the at-rest copy decrypted
and streamed). The baseline is `sftp put` / `sftp get` of the same files against a local sshd.
Ratios are portal seconds / sftp seconds (1.0 = as fast as OpenSSH).
"""
from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from gateway.clock import JST, FixedClock
from gateway.home import Home
from gateway.ledger.log import Actor
from gateway.service import Gateway
from gateway.store import models as m

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
RECORDS = int(os.environ.get("BENCH_PORTAL_RECORDS", "300000"))
PASSWORD = "benchmark-password-2020"
MB = 10**6

pytestmark = pytest.mark.skipif(not Path("/usr/sbin/sshd").exists() or shutil.which("sftp") is None,
                                reason="needs OpenSSH (sshd and sftp)")


def gateway(*args: str, env: dict[str, str]) -> None:
    proc = subprocess.run([str(BIN / "gateway"), *args], capture_output=True, text=True, env={**os.environ, **env})
    if proc.returncode != 0:
        raise RuntimeError(f"gateway {' '.join(args)}: {proc.stderr}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sshd(root: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    root.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "host")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "client")], check=True)
    shutil.copy(root / "client.pub", root / "authorized_keys")
    port = free_port()
    (root / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {root / 'host'}\nAuthorizedKeysFile {root / 'authorized_keys'}\n"
        f"PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        f"PidFile {root / 'sshd.pid'}\nSubsystem sftp internal-sftp\n")
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(root / "sshd_config")],
                            stderr=subprocess.DEVNULL)
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    return proc, port, root / "client"


def sftp(port: int, key: Path, batch: str) -> float:
    start = time.perf_counter()
    subprocess.run(["sftp", "-q", "-b", "-", "-P", str(port), "-i", str(key), "-o", "StrictHostKeyChecking=no",
                    "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "root@127.0.0.1"],
                   input=batch.encode(), check=True, capture_output=True)
    return time.perf_counter() - start


def test_portal_vs_sftp(benchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.channels.lgwan_asp import terminals
    from gateway.channels.lgwan_asp.auth import HASHER
    from gateway.channels.lgwan_asp.server import PortalServer

    home = tmp_path / "home"
    # The package is downloaded once per timed round: the city's default limit of one complete
    # download (issue 20) is lifted for this home, as in bench_sftp.py.
    env = {"GATEWAY_HOME": str(home), "GATEWAY_DB_URL": f"sqlite:///{home / 'gateway.db'}",
           "GATEWAY_DOWNLOADS_MAX_COMPLETE": "0"}
    monkeypatch.delenv("GATEWAY_FAKE_NOW", raising=False)
    # A rehearsal home on the approval's time (its TLS certificates are made on the real clock).
    env["GATEWAY_FAKE_NOW"] = "2020-06-01T10:00:00+09:00"
    gateway("init", "--rehearsal", env=env)
    gateway("approval", "add", str(REPO / "gateway" / "data" / "simulations" / "approvals" / "kurume-2020-teigaku.toml"), env=env)
    gateway("user", "add", "s.staff", "--org", "kurume", "--role", "staff", "--name", "職員", env=env)
    source = tmp_path / "recipients.csv"
    gateway("generate", "recipients", "--count", str(RECORDS), "--schema", "kurume-2020", "--seed", "1",
            "-o", str(source), env=env)
    # Through monkeypatch, so that this home and its database do not leak into the benchmarks that
    # run after this one in the same process (they open their own homes by these variables).
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # What `age` itself uses: the real cost of a package (the settings' default, unless overridden).
    monkeypatch.delenv("GATEWAY_SCRYPT_WORK_FACTOR", raising=False)
    gw = Gateway.open(Home(home), FixedClock(datetime(2020, 6, 1, 10, tzinfo=JST)))
    admin = Actor(user="cli:bench", role="admin")
    certs = {}
    for login in ("s.staff", "k.tanaka"):
        with gw.unit() as s:
            u = s.query(m.User).filter_by(login=login).one()
            u.password_hash, u.must_change_password = HASHER.hash(PASSWORD), False
        certs[login] = terminals.issue(gw, login, tmp_path / "certs", actor=admin)
    server = PortalServer(gw).start()
    sshd, port, key = start_sshd(tmp_path / "ssh")
    try:
        def client(login: str) -> httpx.Client:
            ctx = ssl.create_default_context(cafile=str(home / "keys" / "ca.crt"))
            ctx.load_cert_chain(certs[login].cert, certs[login].key)
            c = httpx.Client(base_url=f"https://127.0.0.1:{server.port}", verify=ctx, timeout=600)
            tok = c.post("/api/v1/tokens", json={"login": login, "password": PASSWORD}).json()["token"]
            c.headers["authorization"] = f"Bearer {tok}"
            return c

        staff, contractor = client("s.staff"), client("k.tanaka")
        size = source.stat().st_size
        t0 = time.perf_counter()
        with source.open("rb") as f:
            r = staff.post("/api/v1/transfers", data={"approval": "kurume-2020-teigaku", "recipient": "chikugo-print",
                                                      "profile": "lgwan-asp", "password_delivery": "registered-mail"},
                           files={"file": ("recipients.csv", f, "text/csv")})
        upload_e2e = time.perf_counter() - t0
        assert r.status_code == 200, r.text
        transfer = r.json()["transfer"]
        # Upload only: the same body refused before screening (an unknown approval), so what is
        # timed is TLS, HTTP and the streaming write into the work area.
        t0 = time.perf_counter()
        with source.open("rb") as f:
            staff.post("/api/v1/transfers", data={"approval": "none", "recipient": "x", "profile": "lgwan-asp",
                                                  "password_delivery": "hand"}, files={"file": ("r.csv", f)})
        upload_only = time.perf_counter() - t0
        package = tmp_path / "package.age"

        def download() -> None:
            with contractor.stream("GET", f"/api/v1/transfers/{transfer}/package") as resp, package.open("wb") as out:
                assert resp.status_code == 200
                for chunk in resp.iter_bytes(1 << 20):
                    out.write(chunk)

        benchmark.pedantic(download, rounds=3, iterations=1)
        download_s = benchmark.stats.stats.median
        psize = package.stat().st_size
        remote = tmp_path / "remote"
        remote.mkdir()
        # sftp's own connection set-up (ssh handshake, auth) is measured apart and subtracted: the
        # portal's client is connected and logged in before its timings start, too.
        connect = min(sftp(port, key, "pwd\n") for _ in range(3))
        sftp_put = -connect + min(sftp(port, key, f"put {source} {remote / 'r.csv'}\n") for _ in range(3))
        sftp_get = -connect + min(sftp(port, key, f"get {remote / 'r.csv'} {tmp_path / 'back.csv'}\n") for _ in range(3))
        shutil.copy(package, remote / "p.age")
        sftp_get_pkg = -connect + min(sftp(port, key, f"get {remote / 'p.age'} {tmp_path / 'p2.age'}\n") for _ in range(3))
        info = {
            "records": RECORDS, "file_mb": round(size / MB, 1), "package_mb": round(psize / MB, 1),
            "portal_upload_e2e_s": round(upload_e2e, 3), "portal_upload_only_s": round(upload_only, 3),
            "portal_download_s": round(download_s, 3),
            "sftp_connect_s": round(connect, 3), "sftp_put_s": round(sftp_put, 3), "sftp_get_s": round(sftp_get, 3), "sftp_get_package_s": round(sftp_get_pkg, 3),
            "portal_upload_mb_s": round(size / MB / upload_only, 1),
            "portal_download_mb_s": round(psize / MB / download_s, 1),
            "sftp_put_mb_s": round(size / MB / sftp_put, 1), "sftp_get_mb_s": round(psize / MB / sftp_get_pkg, 1),
            "upload_ratio_to_sftp": round(upload_only / sftp_put, 2),
            "upload_e2e_ratio_to_sftp": round(upload_e2e / sftp_put, 2),
            "download_ratio_to_sftp": round(download_s / sftp_get_pkg, 2),
        }
        benchmark.extra_info.update(info)
        print("\nportal vs sftp:", info)
    finally:
        sshd.terminate()
        sshd.wait(timeout=10)
        server.stop()
        gw.engine.dispose()
