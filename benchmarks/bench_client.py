"""The contractor's end-to-end receive with `gateway-client`, against the bare tools, in the same run.

Run: .venv/bin/pytest benchmarks/bench_client.py -q -s -o python_files='bench_*.py' --benchmark-only
 or: .venv/bin/python benchmarks/bench_client.py            (prints the same JSON)

The package: `gateway send` of the Kurume 2020 file (`gateway generate recipients --count 305115
--schema kurume-2020 --encoding cp932`, about 45 MB), scrypt work factor 18 as `age -p` uses.

  client, SFTP    `gateway-client receive T -o FILE --sftp HOST:PORT --login L --key K --host-key H
                  --passphrase-file F --json`, one process from start to exit: the SSH login, the
                  download from `gateway serve`'s /outbox, decryption, the record count and the
                  SHA-256 in one streaming pass, the plaintext written atomically (fsync), the
                  receipt signed (SSHSIG) and filed through /attestations, its answer read back.
  client, portal  the same over the portal's API with the terminal certificate (`--p12`): TLS with
                  the client certificate, POST /api/v1/tokens, the package stream, POST
                  /api/v1/attestations, logout.
  bare tools      OpenSSH `sftp get` of the same-size package from a local OpenSSH sshd, `age -d`
                  (through a pty: age reads passphrases only from a terminal), `sha256sum`. No
                  record count, no receipt: what a contractor could script with stock tools.

ratio = client / bare. Each pipeline runs BENCH_CLIENT_ROUNDS times (default 3), interleaved, each
on a package sent for it (a receipt is filed once per hand-over); a pipeline's figure is its fastest
round. Everything runs on the real clock in a production home (the client signs with the real time,
and a signature dated ahead of the gateway's clock is refused), under the Kurume 2020 approval with its
dates moved to today.
"""
from __future__ import annotations

import json
import os
import platform
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from today import approval_today  # noqa: E402

BIN = Path(sys.executable).parent
RECORDS = int(os.environ.get("BENCH_CLIENT_RECORDS", "305115"))
ROUNDS = int(os.environ.get("BENCH_CLIENT_ROUNDS", "3"))
APPROVAL, CITY, HANDLER = "kurume-2020-teigaku", "chikugo-print", "k.tanaka"
PORTAL_PASSWORD = "benchmark-client-2020"

pytestmark = pytest.mark.skipif(
    not Path("/usr/sbin/sshd").exists() or shutil.which("sftp") is None or shutil.which("age") is None
    or shutil.which("sha256sum") is None, reason="needs OpenSSH (sshd, sftp), age and sha256sum")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


class Bench:
    def __init__(self, tmp: Path) -> None:
        self.tmp, self.home = tmp, tmp / "home"
        base = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        self.env = {**base, "GATEWAY_HOME": str(self.home)}
        self.serve: subprocess.Popen[str] | None = None
        self.sshd: OpenSshd | None = None
        self.sent = 0

    def gateway(self, *args: str) -> str:
        proc = subprocess.run([str(BIN / "gateway"), *args], capture_output=True, text=True, env=self.env)
        if proc.returncode != 0:
            raise RuntimeError(f"gateway {' '.join(args)}: {proc.stderr}")
        return proc.stdout

    def setup(self) -> None:
        self.gateway("init")
        self.gateway("approval", "add", str(approval_today(APPROVAL, self.tmp)))
        self.gateway("user", "add", "s.staff", "--org", "kurume", "--role", "staff", "--name", "職員")
        self.gateway("operator", "add", "s.staff", "--login", "s.staff")
        self.source = self.tmp / "kurume-2020.csv"
        self.gateway("generate", "recipients", "--count", str(RECORDS), "--schema", "kurume-2020", "--encoding",
                     "cp932", "--seed", "2020", "-o", str(self.source))
        self.key = keygen(self.tmp / "handler_key")
        self.gateway("user", "add-key", HANDLER, f"{self.key}.pub")
        issued = json.loads(self.gateway("terminal", "issue", HANDLER, "-o", str(self.tmp / "terminal"), "--json"))
        self.p12 = Path(issued["pkcs12"])
        self.p12_pass = self.tmp / "p12.pass"
        self.p12_pass.write_text(issued["pkcs12_password"])
        initial = self.gateway("user", "issue-password", HANDLER).strip().splitlines()[-1].strip()
        self.packages = [(self.send("vpn-sftp"), self.send("lgwan-asp")) for _ in range(ROUNDS)]  # not timed
        self.serve = subprocess.Popen([str(BIN / "gateway"), "serve", "--sftp-port", "0", "--portal-port", "0"],
                                      env=self.env, text=True, stdout=subprocess.PIPE,
                                      stderr=(self.tmp / "serve.log").open("w"))
        assert self.serve.stdout is not None
        lines = self.serve.stdout.readline() + self.serve.stdout.readline()
        self.sftp_port = int(re.search(r"SFTP: [\d.]+:(\d+)", lines).group(1))  # type: ignore[union-attr]
        self.portal = re.search(r"(https://[\d.]+:\d+)/", lines).group(1)  # type: ignore[union-attr]
        self._first_login(initial)
        self.password_file = self.tmp / "portal.pass"
        self.password_file.write_text(PORTAL_PASSWORD)
        self.host_key = self.home / "keys" / "ssh_host_ed25519_key.pub"
        # The bare tools' side: a local OpenSSH sshd holding a package of the same file and size.
        self.sshd = OpenSshd.create(self.tmp / "sshd")
        self.sshd.authorize(Path(f"{self.key}.pub").read_text())
        self.sshd.start()
        self.known = self.tmp / "known_hosts"
        self.known.write_text(f"[127.0.0.1]:{self.sshd.port} {self.sshd.host_key_line()}\n")
        self.remote = self.tmp / "sshd-files" / "bare.age"
        self.remote.parent.mkdir()
        self.bare_pass = "correct-horse-battery-staple-2020"
        self._age(["-p", "-o", str(self.remote), str(self.source)],
                  ["Enter passphrase (leave empty to autogenerate a secure one):", "Confirm passphrase:"])
        self.sha256 = subprocess.run(["sha256sum", str(self.source)], capture_output=True, text=True,
                                     check=True).stdout.split()[0]

    def _first_login(self, initial: str) -> None:
        """The handler's forced change of the initial password, as on their first day in the browser."""
        import httpx

        from gateway.client.portal import terminal_context

        ctx, _, _ = terminal_context(self.p12.read_bytes(), self.p12_pass.read_bytes())
        with httpx.Client(base_url=self.portal, verify=ctx, timeout=60) as c:
            token = c.post("/api/v1/tokens", json={"login": HANDLER, "password": initial}).json()["token"]
            r = c.post("/api/v1/password", json={"current": initial, "new": PORTAL_PASSWORD},
                       headers={"authorization": f"Bearer {token}"})
            assert r.status_code == 204, r.text

    def stop(self) -> None:
        if self.sshd is not None:
            self.sshd.stop()
        if self.serve is not None and self.serve.poll() is None:
            self.serve.send_signal(signal.SIGTERM)
            try:
                self.serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.serve.kill()
                self.serve.wait()

    def send(self, profile: str) -> dict[str, Any]:
        # s.staff sends as themself: a named operator, whose OS user sudo would name.
        proc = subprocess.run([str(BIN / "gateway"), "send", str(self.source), "--approval", APPROVAL, "--recipient",
                               CITY, "--profile", profile, "--password-delivery", "registered-mail", "--json"],
                              capture_output=True, text=True,
                              env={**self.env, "SUDO_USER": "s.staff"})
        if proc.returncode != 0:
            raise RuntimeError(f"gateway send: {proc.stderr}")
        sent = json.loads(proc.stdout)
        self.sent += 1
        passfile = self.tmp / f"{sent['transfer']}.pass"
        passfile.write_text(sent["passphrase"] + "\n")
        sent["passfile"] = str(passfile)
        return sent

    # -- the client -------------------------------------------------------------------------------
    def client(self, sent: dict[str, Any], channel: str, out: Path) -> dict[str, Any]:
        args = (["--sftp", f"127.0.0.1:{self.sftp_port}", "--login", HANDLER, "--host-key", str(self.host_key)]
                if channel == "sftp" else
                ["--p12", str(self.p12), "--p12-password-file", str(self.p12_pass), "--portal", self.portal,
                 "--password-file", str(self.password_file)])
        t0 = time.perf_counter()
        proc = subprocess.run([str(BIN / "gateway-client"), "receive", sent["transfer"], "-o", str(out), *args,
                               "--key", str(self.key), "--passphrase-file", sent["passfile"], "--json"],
                              capture_output=True, text=True, env=self.env)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"gateway-client receive: {proc.stderr}")
        got = json.loads(proc.stdout)
        assert got["records"] == RECORDS and got["sha256"] == sent["sha256"] == self.sha256 and got["matches"]
        out.unlink()
        return {"total_s": round(seconds, 3), "inside_s": got["seconds"]}

    # -- the bare tools -----------------------------------------------------------------------------
    def _age(self, args: list[str], prompts: list[str]) -> float:
        import pexpect

        t0 = time.perf_counter()
        child = pexpect.spawn("age", args, timeout=300)
        child.delaybeforesend = None
        try:
            for prompt in prompts:
                child.expect_exact(prompt)
                child.sendline(self.bare_pass)
            child.expect(pexpect.EOF)
            seconds = time.perf_counter() - t0
        finally:
            child.close()
        assert child.exitstatus == 0, child.before
        return seconds

    def bare(self, work: Path) -> dict[str, Any]:
        assert self.sshd is not None
        got, plain = work / "bare-get.age", work / "bare.csv"
        t0 = time.perf_counter()
        subprocess.run(["sftp", "-q", "-b", "-", "-P", str(self.sshd.port), "-i", str(self.key), "-o",
                        "IdentitiesOnly=yes", "-o", f"UserKnownHostsFile={self.known}", "-o",
                        "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
                        f"{self.sshd.user}@127.0.0.1"], input=f"get {self.remote} {got}\n".encode(), check=True,
                       capture_output=True)
        download = time.perf_counter() - t0
        decrypt = self._age(["-d", "-o", str(plain), str(got)], ["Enter passphrase:"])
        t0 = time.perf_counter()
        digest = subprocess.run(["sha256sum", str(plain)], check=True, capture_output=True, text=True).stdout.split()[0]
        verify = time.perf_counter() - t0
        assert digest == self.sha256
        got.unlink()
        plain.unlink()
        return {"total_s": round(download + decrypt + verify, 3),
                "stages": {"sftp_get_s": round(download, 3), "age_d_s": round(decrypt, 3),
                           "sha256sum_s": round(verify, 3)}}


def run_all(tmp: Path) -> dict[str, Any]:
    bench = Bench(tmp)
    rounds: dict[str, list[dict[str, Any]]] = {"bare": [], "client_sftp": [], "client_portal": []}
    load = [round(os.getloadavg()[0], 2)]
    try:
        bench.setup()
        for r in range(ROUNDS):
            work = tmp / f"round-{r}"
            work.mkdir()
            vpn, lgwan = bench.packages[r]
            rounds["bare"].append(bench.bare(work))
            rounds["client_sftp"].append(bench.client(vpn, "sftp", work / "sftp.csv"))
            rounds["client_portal"].append(bench.client(lgwan, "portal", work / "portal.csv"))
            load.append(round(os.getloadavg()[0], 2))
            print(f"\nround {r + 1}: " + ", ".join(f"{k} {v[-1]['total_s']:.2f} s" for k, v in rounds.items()))
    finally:
        bench.stop()
    best = {k: min(v, key=lambda x: x["total_s"]) for k, v in rounds.items()}
    bare = best["bare"]["total_s"]
    return {
        "records": RECORDS, "file_mb": round(bench.source.stat().st_size / 10**6, 1), "rounds": ROUNDS,
        "client_sftp_s": best["client_sftp"]["total_s"], "client_portal_s": best["client_portal"]["total_s"],
        "bare_s": bare, "bare_stages": best["bare"]["stages"],
        "client_e2e_ratio_sftp": round(best["client_sftp"]["total_s"] / bare, 2),
        "client_e2e_ratio_portal": round(best["client_portal"]["total_s"] / bare, 2),
        "rounds_total_s": {k: [x["total_s"] for x in v] for k, v in rounds.items()},
        "client_inside_s": {k: [x["inside_s"] for x in v] for k, v in rounds.items() if k != "bare"},
        "cpu": cpu_model(), "cpus": os.cpu_count(), "load_average_1min": load,
    }


def test_client_receive_e2e(benchmark, tmp_path: Path) -> None:
    result = benchmark.pedantic(run_all, args=(tmp_path,), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    print("\ngateway-client receive end to end:", json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-client-") as tmp:
        print(json.dumps(run_all(Path(tmp)), indent=1, ensure_ascii=False))
