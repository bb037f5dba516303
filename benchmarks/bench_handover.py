"""One Kurume batch handed over end to end on each channel, against the bare tools a city could
script instead, in the same run on the same file; and the machine's crypto floor.

Run: .venv/bin/pytest benchmarks/bench_handover.py -q -s -o python_files='bench_*.py' --benchmark-only

The file: `gateway generate recipients --schema kurume-2020 --encoding cp932` with 305,115 records
(the Kurume 2020 population, about 45 MB). The approval is gateway/data/simulations/approvals/kurume-2020-teigaku.toml;
each channel uses that approval's profile for it:

  vpn-sftp   `gateway send --profile vpn-sftp` (validate, manifest, encrypt, store), then the
             contractor's `gateway-client receive T -o FILE --sftp HOST:PORT --key K`: one process
             that logs in to `gateway serve --sftp-port`, downloads /outbox/<transfer>.age, decrypts,
             counts the records and hashes them in one streaming pass, and files the signed receipt
             (stage "receive"); `gateway export evidence`.
  lgwan-asp  `gateway send --profile lgwan-asp`, then `gateway-client receive T -o FILE --p12 F
             --portal URL` on the contractor's designated terminal: TLS with its client certificate,
             POST /api/v1/tokens, the package stream, decryption, count and hash in one pass, the
             signed receipt by POST /api/v1/attestations (stage "receive"); `gateway export evidence`.
  courier    Kurume's courier leg is the contractor's relay to its approved subcontractor
             (`subcontract-courier`, セキュリティ便): the contractor's designated handler sends the file
             it received (the same bytes: every column is approved) with `--relay-of`, writes the
             media image (`gateway courier write --media dvd`) and records the hand-over
             (`gateway courier handover`); the subcontractor joins the package from the image
             (`gateway courier extract`), decrypts, confirms receipt; `gateway export evidence`.

Every `gateway` command runs as its own process, as an operator types it, through stagetimer.py,
which times the functions inside it (send: read_header / csv parsing / row checks / minimise,
which encrypts the payload as it writes / policy / age header / scrypt / store; decrypt: age
decrypt with the record count / scrypt). When the approval takes every column, as Kurume's does,
minimise validates with the line scanner instead of csv parsing and row checks, so its
validation is counted in "manifest". What no function covers is the process's start-up
(interpreter, imports, database) and exit, reported as a stage of its own. Nothing is lowered
for speed: GATEWAY_SCRYPT_WORK_FACTOR is unset, so packages use scrypt work factor 18, the same
as `age -p`; the benchmark reads both headers and asserts it.

The same two paths again as "vpn-sftp warm" and "lgwan-asp warm": the city's `gateway send` and
`gateway export evidence` as a script runs them where `gateway command-server` runs (no terminal;
each still its own process, forked from the server's warm parent instead of importing the gateway
again; the benchmark checks the server's log that each one went through it), timed whole. These
are the product as deployed for scripted hand-overs, so they define e2e_ratio_sftp and
e2e_ratio_portal and the loaded ratios; the fresh-process paths above, with their stage breakdown,
give e2e_ratio_sftp_fresh and e2e_ratio_portal_fresh.

Bare tools, same file, same run: `age -p` (through a pty, as age reads passphrases only from a
terminal), `sftp put` to a local OpenSSH sshd, `sftp get` from it, `age -d`, `sha256sum`.
e2e_ratio_sftp = our vpn-sftp warm hand-over / bare tools; e2e_ratio_portal = our lgwan-asp warm
hand-over / bare tools (targets <= 1.0). Until issue 25 the contractor's side was `gateway package decrypt`
+ `gateway receipt` (two processes, the plaintext read twice); since then it is `gateway-client
receive`, as the issue defines the keys (the courier leg, which has no client step, keeps them).
e2e_ratio_sftp_loaded / e2e_ratio_portal_loaded: the same pipelines, ours and the bare tools',
each round run again while a second CPU-bound process (a Python busy loop, benchmarks/today.py
Burner) runs: started before the loaded round, stopped after it (target <= 1.3).
Each pipeline runs BENCH_HANDOVER_ROUNDS times (default 2), interleaved (bare, vpn-sftp, lgwan-asp,
courier, vpn-sftp warm, lgwan-asp warm, then loaded: bare, vpn-sftp warm, lgwan-asp warm; bare, ...), so a burst of load on this shared
machine hits them alike; a pipeline's figure is its fastest round, and the ratios divide those.
Everything runs on the real clock in a production home (the client signs its receipt with the real
time, which a rehearsal home's 2020 clock would refuse as dated ahead), under the Kurume 2020
approval with its dates moved to today (benchmarks/today.py).

Floor: ChaCha20-Poly1305 (pyca/cryptography, 64 KiB chunks) and SHA-256 (hashlib) on a memory
buffer. A hand-over must at least encrypt and decrypt the file once and hash it twice (manifest,
verify): floor_s = 2 * size / chacha + 2 * size / sha256; floor_with_kdf_s adds the two scrypt
derivations at work factor 18 (measured here too). share_above_floor = (total - floor) / total.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from gateway.simulate.opensshd import OpenSshd, keygen  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import profiling  # noqa: E402
from today import Burner, approval_today  # noqa: E402

BIN = Path(sys.executable).parent
STAGETIMER = Path(__file__).resolve().parent / "stagetimer.py"
RECORDS = int(os.environ.get("BENCH_HANDOVER_RECORDS", "305115"))  # Kurume 2020 (305,115 persons)
ROUNDS = int(os.environ.get("BENCH_HANDOVER_ROUNDS", "2"))
PROFILE = profiling.profile_dir()  # BENCH_PROFILE=1: one more vpn-sftp and lgwan-asp pass under py-spy
APPROVAL = "kurume-2020-teigaku"
CITY, CONTRACTOR, SUBCONTRACTOR = "chikugo-print", "k.tanaka", "y.hirano"
AGE_WORK_FACTOR = 18  # `age -p` always uses 18
PASSWORD = "benchmark-handover-2020"
MB = 10**6
TARGETS = {"e2e_ratio_sftp": 1.0, "e2e_ratio_portal": 1.0, "e2e_ratio_sftp_loaded": 1.3,
           "e2e_ratio_portal_loaded": 1.3}
BARE_STAGES = ("encrypt", "deliver", "download", "decrypt", "verify")

pytestmark = pytest.mark.skipif(
    not Path("/usr/sbin/sshd").exists() or shutil.which("sftp") is None or shutil.which("age") is None
    or shutil.which("sha256sum") is None, reason="needs OpenSSH (sshd, sftp), age and sha256sum")

SEND_STAGES = [
    ("gateway.operations.send", "read_header", "header"),
    ("gateway.operations.send", "minimise", "pass"),
    ("gateway.core.records.reader", "_GuardedRows.block", "parse"),
    ("gateway.core.records.reader", "_BlockCheck.__call__", "check"),
    ("gateway.core.records.reader", "_check_cells", "check"),
    ("gateway.operations.send", "decide", "policy"),
    ("gateway.operations.send", "_relay_refusals", "policy"),
    # The minimised rows are encrypted as they are written (inside "pass", so in "manifest");
    # "encrypt" is the header, which waits for what is left of the scrypt derivation started
    # before the pass (its full duration, overlapping the pass, is in encrypt_scrypt_s).
    ("gateway.crypto.age", "header", "encrypt"),
    ("gateway.crypto.age.scrypt", "_derive", "scrypt"),
    ("gateway.operations.send", "_store", "store"),
    ("gateway.store.blobs", "BlobStore.put", "blob"),
]
# `package decrypt` hashes and counts the records while it decrypts, in one pass: "decrypt" holds
# all three, "verify" only the comparison with the manifest (the bare tools' sha256sum is a pass
# of its own).
DECRYPT_STAGES = [
    ("gateway.cli.package", "_decrypt_and_count", "decrypt"),
    ("gateway.crypto.age.scrypt", "_derive", "scrypt"),
]
RECEIPT_STAGES = [("gateway.operations.receive", "confirm_receipt", "command")]
EVIDENCE_STAGES = [("gateway.cli.evidence", "export_bundle", "command")]
WRITE_STAGES = [("gateway.channels.courier.media", "write_media", "command")]
EXTRACT_STAGES = [("gateway.channels.courier.media", "extract", "command")]


@dataclass
class Run:
    """One pipeline's round: seconds per stage and what is inside them."""

    stages: dict[str, float] = field(default_factory=dict)
    detail: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.stages.values())

    def add(self, stage: str, seconds: float) -> None:
        self.stages[stage] = self.stages.get(stage, 0.0) + seconds

    def rounded(self) -> dict[str, Any]:
        return {"total_s": round(self.total, 3), "stages": {k: round(v, 3) for k, v in self.stages.items()},
                "detail": {k: round(v, 3) for k, v in self.detail.items()}}


def work_factor(package: Path) -> int:
    """The scrypt work factor in an age file's header (`-> scrypt <salt> <log2 N>`)."""
    with package.open("rb") as f:
        for line in f:
            if line.startswith(b"-> scrypt "):
                return int(line.split()[3])
            if line.startswith(b"---"):
                break
    raise AssertionError(f"{package} has no scrypt stanza")


class Bench:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.home = tmp / "home"
        env = {k: v for k, v in os.environ.items()
               if k not in ("GATEWAY_DB_URL", "GATEWAY_SCRYPT_WORK_FACTOR", "GATEWAY_FAKE_NOW")}
        self.env = {**env, "GATEWAY_HOME": str(self.home)}
        self.serve: subprocess.Popen[str] | None = None
        self.sshd: OpenSshd | None = None
        self.counter = 0
        self.profiles: dict[str, Path] | None = None  # set during the profiling pass
        self.profiling = ""  # the channel being profiled
        # `gateway command-server` for the home: with `warm`, the city's commands (send, export
        # evidence) go through it, as scripts do where it runs; timed whole, nothing inside.
        self.commands: subprocess.Popen[bytes] | None = None
        self.commands_log = tmp / "command-server.log"
        self.warm = False

    # -- running commands ------------------------------------------------------------------
    def gateway(self, *args: str) -> str:
        proc = subprocess.run([str(BIN / "gateway"), *args], capture_output=True, text=True, env=self.env)
        if proc.returncode != 0:
            raise RuntimeError(f"gateway {' '.join(args)}: {proc.stderr}")
        return proc.stdout

    def timed(self, spec: list[tuple[str, str, str]], *args: str) -> tuple[float, dict[str, float], str]:
        """(wall seconds, seconds per stage inside, stdout) of one `gateway` process."""
        self.counter += 1
        out = self.tmp / f"stages-{self.counter}.json"
        env = {**self.env, "BENCH_STAGES": json.dumps(spec), "BENCH_STAGES_OUT": str(out)}
        argv = [sys.executable, str(STAGETIMER), *args]
        if self.profiles is not None and PROFILE is not None:
            label = "-".join(a for a in args[:2] if a.isalpha())
            raw = PROFILE / f"handover-{len(self.profiles) + 1:02d}-{self.profiling}-{label}.txt"
            self.profiles[raw.stem] = raw
            argv = profiling.record(raw, argv)
        t0 = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"gateway {' '.join(args)}: {proc.stderr}")
        stdout = "".join(line for line in proc.stdout.splitlines(keepends=True) if not line.startswith("py-spy>"))
        return wall, json.loads(out.read_text()), stdout

    def whole(self, *args: str) -> tuple[float, str]:
        """(wall seconds, stdout) of one `gateway` command as a script runs it (no terminal), which
        must have gone through the command server."""
        served = self.served()
        t0 = time.perf_counter()
        proc = subprocess.run([str(BIN / "gateway"), *args], capture_output=True, text=True, env=self.env,
                              start_new_session=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"gateway {' '.join(args)}: {proc.stderr}")
        if self.served() != served + 1:
            raise RuntimeError(f"gateway {args[0]} did not go through the command server: {self.commands_log.read_text()}")
        return wall, proc.stdout

    def served(self) -> int:
        return sum(line.startswith("command ") for line in self.commands_log.read_text().splitlines())

    def sftp(self, port: int, user: str, batch: str) -> float:
        t0 = time.perf_counter()
        subprocess.run(["sftp", "-q", "-b", "-", "-P", str(port), "-i", str(self.key), "-o", "IdentitiesOnly=yes",
                        "-o", f"UserKnownHostsFile={self.known}", "-o", "StrictHostKeyChecking=yes",
                        "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", f"{user}@127.0.0.1"],
                       input=batch.encode(), check=True, capture_output=True)
        return time.perf_counter() - t0

    # -- set-up (not timed) ------------------------------------------------------------------
    def setup(self) -> None:
        # A production home on the real clock (see the module's docstring).
        self.gateway("init")
        self.gateway("approval", "add", str(approval_today(APPROVAL, self.tmp)))
        self.gateway("user", "add", "s.staff", "--org", "kurume", "--role", "staff", "--name", "職員")
        self.source = self.tmp / "kurume-2020.csv"
        t0 = time.perf_counter()
        self.gateway("generate", "recipients", "--count", str(RECORDS), "--schema", "kurume-2020",
                     "--encoding", "cp932", "--seed", "2020", "-o", str(self.source))
        self.generate_s = time.perf_counter() - t0
        self.size = self.source.stat().st_size
        self.sha256 = hashlib.sha256(self.source.read_bytes()).hexdigest()
        # The contractor's SFTP login key (also authorised on the local sshd for the bare tools).
        self.key = keygen(self.tmp / "client_key")
        self.gateway("user", "add-key", CONTRACTOR, f"{self.key}.pub")
        # The contractor's designated terminal and portal password (initial one changed at first login).
        issued = json.loads(self.gateway("terminal", "issue", CONTRACTOR, "-o", str(self.tmp / "certs"), "--json"))
        self.cert = (Path(issued["certificate"]), Path(issued["key"]))
        self.p12 = Path(issued["pkcs12"])
        self.p12_pass = self.tmp / "p12.pass"
        self.p12_pass.write_text(issued["pkcs12_password"])
        self.password_file = self.tmp / "portal.pass"
        self.password_file.write_text(PASSWORD)
        initial = self.gateway("user", "issue-password", CONTRACTOR).strip().splitlines()[-1].strip()
        self.serve = subprocess.Popen([str(BIN / "gateway"), "serve", "--sftp-port", "0", "--portal-port", "0"],
                                      env=self.env, text=True, stdout=subprocess.PIPE,
                                      stderr=(self.tmp / "serve.log").open("w"))
        assert self.serve.stdout is not None
        lines = [self.serve.stdout.readline(), self.serve.stdout.readline()]
        self.sftp_port = int(re.search(r"SFTP: [\d.]+:(\d+)", "".join(lines)).group(1))  # type: ignore[union-attr]
        self.portal = re.search(r"(https://[\d.]+:\d+)/", "".join(lines)).group(1)  # type: ignore[union-attr]
        with self.portal_client() as c:
            token = c.post("/api/v1/tokens", json={"login": CONTRACTOR, "password": initial}).json()["token"]
            r = c.post("/api/v1/password", json={"current": initial, "new": PASSWORD},
                       headers={"authorization": f"Bearer {token}"})
            assert r.status_code == 204, r.text
        self.sshd = OpenSshd.create(self.tmp / "sshd")
        self.sshd.authorize(Path(f"{self.key}.pub").read_text())
        self.sshd.start()
        ours = " ".join((self.home / "keys" / "ssh_host_ed25519_key.pub").read_text().split()[:2])
        self.known = self.tmp / "known_hosts"
        self.known.write_text(f"[127.0.0.1]:{self.sftp_port} {ours}\n"
                              f"[127.0.0.1]:{self.sshd.port} {self.sshd.host_key_line()}\n")
        self.host_key = self.home / "keys" / "ssh_host_ed25519_key.pub"
        self.commands = subprocess.Popen([str(BIN / "gateway"), "command-server"], env=self.env,
                                         stdout=subprocess.DEVNULL, stderr=self.commands_log.open("w"),
                                         start_new_session=True)
        deadline = time.monotonic() + 60
        while not (self.home / "run" / "commands.sock").exists():
            if self.commands.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gateway command-server: {self.commands_log.read_text()}")
            time.sleep(0.05)
        self.remote = self.tmp / "sshd-files"
        self.remote.mkdir()

    def portal_client(self) -> httpx.Client:
        ctx = ssl.create_default_context(cafile=str(self.home / "keys" / "ca.crt"))
        ctx.load_cert_chain(*self.cert)
        return httpx.Client(base_url=self.portal, verify=ctx, timeout=600)

    def stop(self) -> None:
        if self.sshd is not None:
            self.sshd.stop()
        for proc in (self.serve, self.commands):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    # -- our pipeline ------------------------------------------------------------------------
    def send(self, run: Run, file: Path, *args: str) -> dict[str, Any]:
        argv = ("send", str(file), "--approval", APPROVAL, "--password-delivery", "registered-mail", "--json", *args)
        if self.warm:
            wall, out = self.whole(*argv)
            run.add("send", wall)
            return json.loads(out)
        wall, s, out = self.timed(SEND_STAGES, *argv)
        parse, check = s.get("parse", 0.0), s.get("check", 0.0)
        run.add("validate", s.get("header", 0.0) + parse + check + s.get("policy", 0.0))
        run.add("manifest", s["pass"] - parse - check)
        run.add("encrypt", s["encrypt"])
        run.add("store", s["store"])
        inside = s.get("header", 0.0) + s["pass"] + s.get("policy", 0.0) + s["encrypt"] + s["store"]
        run.add("send start-up", wall - inside)
        run.detail.update({"send_process_s": wall, "validate_parse_s": parse, "validate_check_s": check,
                           "encrypt_scrypt_s": s.get("scrypt", 0.0), "store_blob_at_rest_s": s.get("blob", 0.0)})
        return json.loads(out)

    def decrypt(self, run: Run, package: Path, passphrase: str, sent: dict[str, Any]) -> tuple[int, str]:
        assert work_factor(package) == AGE_WORK_FACTOR
        passfile = package.with_suffix(".pass")
        passfile.write_text(passphrase + "\n")
        plain = package.with_suffix(".csv")
        wall, s, out = self.timed(DECRYPT_STAGES, "package", "decrypt", str(package), "-o", str(plain),
                                  "--passphrase-file", str(passfile))
        t0 = time.perf_counter()
        printed = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        records, sha256 = int(printed["records"]), printed["sha256"].strip()
        # What the contractor checks against the password notice / the transfer's manifest.
        assert (records, sha256) == (sent["records"], sent["sha256"]) == (RECORDS, self.sha256)
        compare = time.perf_counter() - t0
        run.add("decrypt", s["decrypt"])
        run.add("verify", compare)
        run.add("decrypt start-up", wall - s["decrypt"])
        run.detail.update({"decrypt_process_s": wall, "decrypt_scrypt_s": s.get("scrypt", 0.0)})
        plain.unlink()
        return records, sha256

    def receipt_cli(self, run: Run, transfer: str, records: int, sha256: str, login: str) -> None:
        wall, s, out = self.timed(RECEIPT_STAGES, "receipt", transfer, "--records", str(records),
                                  "--sha256", sha256, "--as", login, "--paper-ref", "書面 1")
        run.add("receipt", wall)
        run.detail["receipt_command_s"] = s["command"]

    def evidence(self, run: Run) -> None:
        self.counter += 1
        out = self.tmp / f"evidence-{self.counter}"
        if self.warm:
            wall, _ = self.whole("export", "evidence", "--approval", APPROVAL, "-o", str(out))
        else:
            wall, s, _ = self.timed(EVIDENCE_STAGES, "export", "evidence", "--approval", APPROVAL, "-o", str(out))
            run.detail["evidence_command_s"] = s["command"]
        assert any((out / "evidence").glob("*.json"))
        run.add("evidence", wall)
        shutil.rmtree(out)

    def receive(self, run: Run, sent: dict[str, Any], channel: str, out: Path) -> None:
        """The contractor's `gateway-client receive`: download, decrypt, count, hash and the signed
        receipt, one process (timed whole, like the bare tools' commands)."""
        passfile = out.with_suffix(".pass")
        passfile.write_text(sent["passphrase"] + "\n")
        args = (["--sftp", f"127.0.0.1:{self.sftp_port}", "--login", CONTRACTOR, "--host-key", str(self.host_key)]
                if channel == "sftp" else
                ["--p12", str(self.p12), "--p12-password-file", str(self.p12_pass), "--portal", self.portal,
                 "--password-file", str(self.password_file)])
        argv = [str(BIN / "gateway-client"), "receive", sent["transfer"], "-o", str(out), *args,
                "--key", str(self.key), "--passphrase-file", str(passfile), "--json"]
        if self.profiles is not None and PROFILE is not None:
            raw = PROFILE / f"handover-{len(self.profiles) + 1:02d}-{self.profiling}-client-receive.txt"
            self.profiles[raw.stem] = raw
            argv = profiling.record(raw, argv)
        t0 = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env=self.env)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"gateway-client receive: {proc.stderr}")
        got = json.loads("".join(line for line in proc.stdout.splitlines() if not line.startswith("py-spy>")))
        # What the contractor checks against the password notice / the transfer's manifest.
        assert (got["records"], got["sha256"]) == (sent["records"], sent["sha256"]) == (RECORDS, self.sha256)
        assert got["matches"], got
        run.add("receive", wall)
        run.detail.update({"receive_inside_s": got["seconds"], "receive_start_up_s": round(wall - got["seconds"], 3)})
        out.unlink()
        passfile.unlink()

    def vpn_sftp(self, work: Path) -> tuple[Run, str]:
        run = Run()
        sent = self.send(run, self.source, "--recipient", CITY, "--profile", "vpn-sftp", "--as", "s.staff", "--paper-ref", "書面 1")
        run.add("deliver", 0.0)  # the stored package is listed in the contractor's /outbox: no step of its own
        self.receive(run, sent, "sftp", work / "vpn.csv")
        self.evidence(run)
        return run, sent["transfer"]

    def lgwan_asp(self, work: Path) -> Run:
        run = Run()
        sent = self.send(run, self.source, "--recipient", CITY, "--profile", "lgwan-asp", "--as", "s.staff", "--paper-ref", "書面 1")
        run.add("deliver", 0.0)  # the stored package is listed on the contractor's dedicated page
        self.receive(run, sent, "portal", work / "portal.csv")
        self.evidence(run)
        return run

    def courier(self, work: Path, parent: str) -> Run:
        """The contractor relays what it received (the decrypted file) to its subcontractor."""
        relay = work / "received.csv"
        shutil.copy(self.source, relay)  # what `gateway package decrypt` wrote for the contractor (same bytes)
        run = Run()
        sent = self.send(run, relay, "--recipient", "ariake-fuunyu", "--profile", "subcontract-courier",
                         "--relay-of", parent, "--as", CONTRACTOR, "--paper-ref", "書面 1")
        relay.unlink()
        serial = f"CP-SEC-{self.counter:04d}"
        media_dir = work / f"media-{serial}"
        wall_w, s_w, out = self.timed(WRITE_STAGES, "courier", "write", sent["transfer"], "--media", "dvd", "--serial",
                                      serial, "-o", str(media_dir), "--cabinet", "筑後 媒体金庫", "--as", CONTRACTOR, "--paper-ref", "書面 1",
                                      "--json")
        paths = json.loads(out)["paths"]
        wall_h, _, _ = self.timed([], "courier", "handover", serial, "--to", SUBCONTRACTOR, "--place",
                                  "筑後セキュアプリント 出荷場", "--quantity", str(len(paths)), "--cabinet", "有明 媒体金庫",
                                  "--means", "security-courier", "--run", f"SEC-{serial}", "--as", CONTRACTOR, "--paper-ref", "書面 1")
        run.add("deliver", wall_w + wall_h)
        run.detail.update({"deliver_write_media_s": wall_w, "deliver_write_media_command_s": s_w["command"],
                           "deliver_custody_record_s": wall_h})
        package = work / "courier.age"
        wall_x, s_x, _ = self.timed(EXTRACT_STAGES, "courier", "extract", *paths, "-o", str(package))
        run.add("download", wall_x)
        run.detail["download_extract_command_s"] = s_x["command"]
        shutil.rmtree(media_dir)
        records, sha256 = self.decrypt(run, package, sent["passphrase"], sent)
        self.receipt_cli(run, sent["transfer"], records, sha256, SUBCONTRACTOR)
        self.evidence(run)
        package.unlink()
        return run

    def profile(self, work: Path) -> dict[str, Any]:
        """One more vpn-sftp and lgwan-asp hand-over, every `gateway` process under py-spy and py-spy
        attached to `gateway serve`; not part of any figure. Returns where each one's time went."""
        assert PROFILE is not None and self.serve is not None
        work.mkdir()
        self.profiles = {}
        serve = PROFILE / "handover-serve.txt"
        with profiling.Attached(self.serve.pid, serve):
            self.profiling = "vpn-sftp"
            self.vpn_sftp(work)
            self.profiling = "lgwan-asp"
            self.lgwan_asp(work)
        self.profiles["handover-serve"] = serve
        out = {name: profiling.summarise(raw) for name, raw in self.profiles.items()}
        (PROFILE / "handover-summary.json").write_text(json.dumps(out, indent=1))
        self.profiles = None
        return out

    # -- the bare tools ------------------------------------------------------------------------
    def bare(self, work: Path) -> Run:
        import pexpect

        passphrase = "correct-horse-battery-staple-2020"

        def age(args: list[str], prompts: list[str]) -> float:
            # Timed from spawn to the end of age's output (its exit); pexpect's own pauses (before a
            # send, after close) are not age's and are left out.
            t0 = time.perf_counter()
            child = pexpect.spawn("age", args, timeout=300)
            child.delaybeforesend = None
            try:
                for prompt in prompts:
                    child.expect_exact(prompt)
                    child.sendline(passphrase)
                child.expect(pexpect.EOF)
                seconds = time.perf_counter() - t0
            finally:
                child.close()
            assert child.exitstatus == 0, child.before
            return seconds

        run = Run()
        package, back, plain = work / "bare.age", work / "bare-get.age", work / "bare.csv"
        run.add("encrypt", age(["-p", "-o", str(package), str(self.source)],
                               ["Enter passphrase (leave empty to autogenerate a secure one):", "Confirm passphrase:"]))
        assert work_factor(package) == AGE_WORK_FACTOR
        assert self.sshd is not None
        run.add("deliver", self.sftp(self.sshd.port, self.sshd.user, f"put {package} {self.remote / 'bare.age'}\n"))
        run.add("download", self.sftp(self.sshd.port, self.sshd.user, f"get {self.remote / 'bare.age'} {back}\n"))
        run.add("decrypt", age(["-d", "-o", str(plain), str(back)], ["Enter passphrase:"]))
        t0 = time.perf_counter()
        out = subprocess.run(["sha256sum", str(plain)], check=True, capture_output=True, text=True).stdout
        run.add("verify", time.perf_counter() - t0)
        assert out.split()[0] == self.sha256
        for p in (package, back, plain, self.remote / "bare.age"):
            p.unlink()
        return run


def floor(size: int, earlier: dict[str, float] | None = None) -> dict[str, float]:
    """The machine's raw throughput on a memory buffer and scrypt at 2^18, best of several tries;
    measured before and after the rounds (pass the first result as `earlier`) and the best kept,
    since other work on this shared machine only ever makes them slower."""
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    buf = os.urandom(64 * 2**20)
    chunk = 64 * 1024
    view = memoryview(buf)
    aead = ChaCha20Poly1305(ChaCha20Poly1305.generate_key())
    nonce = bytes(12)

    def chacha() -> None:
        for off in range(0, len(buf), chunk):
            aead.encrypt(nonce, view[off:off + chunk], None)

    def sha() -> None:
        hashlib.sha256(buf).hexdigest()

    def kdf() -> None:
        hashlib.scrypt(b"passphrase", salt=bytes(16), n=2**AGE_WORK_FACTOR, r=8, p=1, maxmem=2**29, dklen=32)

    def best(fn: Any, tries: int) -> float:
        times = []
        for _ in range(tries):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    chacha_mb_s = len(buf) / MB / best(chacha, 5)
    sha_mb_s = len(buf) / MB / best(sha, 5)
    scrypt_s = best(kdf, 2)
    if earlier:
        chacha_mb_s = max(chacha_mb_s, earlier["chacha20poly1305_mb_s"])
        sha_mb_s = max(sha_mb_s, earlier["sha256_mb_s"])
        scrypt_s = min(scrypt_s, earlier["scrypt_wf18_s"])
    floor_s = 2 * size / MB / chacha_mb_s + 2 * size / MB / sha_mb_s
    return {"chacha20poly1305_mb_s": round(chacha_mb_s, 1), "sha256_mb_s": round(sha_mb_s, 1),
            "scrypt_wf18_s": round(scrypt_s, 3), "floor_s": round(floor_s, 4),
            "floor_with_kdf_s": round(floor_s + 2 * scrypt_s, 3)}


def startup() -> dict[str, float]:
    """What each process of the hand-over pays before its work starts, best of three: the
    interpreter alone, and the interpreter importing the modules `gateway send`, `gateway export
    evidence` and `gateway-client receive` load (gateway.cli itself loads a command's modules only
    when it runs; SQLAlchemy alone is most of the two `gateway` ones)."""
    def best(code: str) -> float:
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            times.append(time.perf_counter() - t0)
        return round(min(times), 3)

    return {"python_s": best("pass"),
            "import_send_s": best("import gateway.cli.handover, gateway.operations.send, gateway.operations.operators"),
            "import_export_s": best("import gateway.cli.evidence, gateway.operations.operators"),
            "import_client_s": best("import gateway.client.cli, gateway.client.acts, paramiko"),
            "import_sqlalchemy_orm_s": best("import sqlalchemy.orm")}


def loaded_ratios(rounds: dict[str, list[Run]], best: dict[str, Run]) -> dict[str, Any]:
    """The hand-over with a second CPU-bound process running, against the bare tools under the same load."""
    bare = best["bare loaded"].total
    return {"e2e_ratio_sftp_loaded": round(best["vpn-sftp loaded"].total / bare, 2),
            "e2e_ratio_portal_loaded": round(best["lgwan-asp loaded"].total / bare, 2),
            "loaded": {name: best[name].rounded() | {"rounds_total_s": [round(x.total, 3) for x in rounds[name]]}
                       for name in ("bare loaded", "vpn-sftp loaded", "lgwan-asp loaded")}}


def run_all(tmp: Path) -> dict[str, Any]:
    bench = Bench(tmp)
    rounds: dict[str, list[Run]] = {"bare": [], "vpn-sftp": [], "lgwan-asp": [], "courier": [],
                                    "vpn-sftp warm": [], "lgwan-asp warm": [],
                                    "bare loaded": [], "vpn-sftp loaded": [], "lgwan-asp loaded": []}
    load = [round(os.getloadavg()[0], 2)]
    profiles: dict[str, Any] = {}
    try:
        bench.setup()
        first_floor = floor(bench.size)
        for r in range(ROUNDS):
            work = tmp / f"round-{r}"
            work.mkdir()
            rounds["bare"].append(bench.bare(work))
            vpn, parent = bench.vpn_sftp(work)
            rounds["vpn-sftp"].append(vpn)
            rounds["lgwan-asp"].append(bench.lgwan_asp(work))
            rounds["courier"].append(bench.courier(work, parent))
            bench.warm = True  # from here on the city's commands go through the command server
            rounds["vpn-sftp warm"].append(bench.vpn_sftp(work)[0])
            rounds["lgwan-asp warm"].append(bench.lgwan_asp(work))
            load.append(round(os.getloadavg()[0], 2))
            with Burner():  # the same second process for the bare tools and ours
                rounds["bare loaded"].append(bench.bare(work))
                rounds["vpn-sftp loaded"].append(bench.vpn_sftp(work)[0])
                rounds["lgwan-asp loaded"].append(bench.lgwan_asp(work))
                load.append(round(os.getloadavg()[0], 2))
            bench.warm = False
            print(f"\nround {r + 1}: " + ", ".join(f"{k} {v[-1].total:.2f} s" for k, v in rounds.items()))
        if PROFILE:
            profiles = bench.profile(tmp / "profile-round")
    finally:
        bench.stop()
    best = {k: min(v, key=lambda run: run.total) for k, v in rounds.items()}
    bare = best["bare"].total
    f = floor(bench.size, first_floor)
    start = startup()
    channels = {}
    for name in ("vpn-sftp warm", "lgwan-asp warm", "vpn-sftp", "lgwan-asp", "courier"):
        run = best[name]
        channels[name] = run.rounded() | {
            "rounds_total_s": [round(x.total, 3) for x in rounds[name]],
            "ratio_to_bare": round(run.total / bare, 2),
            "share_above_floor": round((run.total - f["floor_s"]) / run.total, 4),
            "share_above_floor_with_kdf": round((run.total - f["floor_with_kdf_s"]) / run.total, 4),
        }
    result: dict[str, Any] = {
        "records": RECORDS, "file_mb": round(bench.size / MB, 1), "rounds": ROUNDS,
        "scrypt_work_factor": AGE_WORK_FACTOR, "generate_s": round(bench.generate_s, 1),
        # The product as deployed for scripted hand-overs: the city's commands through
        # `gateway command-server`; `_fresh`: each of them a new process, as without it.
        "e2e_ratio_sftp": channels["vpn-sftp warm"]["ratio_to_bare"],
        "e2e_ratio_portal": channels["lgwan-asp warm"]["ratio_to_bare"],
        "e2e_ratio_sftp_fresh": channels["vpn-sftp"]["ratio_to_bare"],
        "e2e_ratio_portal_fresh": channels["lgwan-asp"]["ratio_to_bare"],
        "e2e_ratio_courier": channels["courier"]["ratio_to_bare"],
        **loaded_ratios(rounds, best),
        "channels": channels,
        "bare": best["bare"].rounded() | {
            "rounds_total_s": [round(x.total, 3) for x in rounds["bare"]],
            "share_above_floor": round((bare - f["floor_s"]) / bare, 4),
            "share_above_floor_with_kdf": round((bare - f["floor_with_kdf_s"]) / bare, 4),
        },
        "per_round_ratio_sftp": [round(v.total / b.total, 2) for v, b in zip(rounds["vpn-sftp warm"], rounds["bare"])],
        "per_round_ratio_portal": [round(v.total / b.total, 2) for v, b in zip(rounds["lgwan-asp warm"], rounds["bare"])],
        "floor": f,
        "process_start": start,
        # At the start, then per round after the quiet pipelines and after the loaded ones (the
        # busy loop included): this machine is shared.
        "load_average_1min": load,
        "cpus": os.cpu_count(),
    }
    if PROFILE:
        result["profiles"] = profiles
    result["targets"] = {k: f"{'met' if result[k] <= v else 'MISSED'} (<= {v})" for k, v in TARGETS.items()}
    return result


def test_handover_e2e(benchmark, tmp_path: Path) -> None:
    result = benchmark.pedantic(run_all, args=(tmp_path,), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    print("\nhand-over end to end:", json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        print(json.dumps(run_all(Path(d)), indent=1, ensure_ascii=False))
