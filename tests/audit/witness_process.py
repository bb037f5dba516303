"""A real witness process on 127.0.0.1, and a log that talks to it as the gateway would.

The witness runs as `audit witness serve` in its own Python process with the `gateway` package
made unimportable, so every test that uses it also shows the witness needs no gateway code. It
binds port 0 and the test reads the port it printed: no port is guessed.
"""
from __future__ import annotations

import http.client
import json
import os
import select
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from audit import checkpoint as cp
from audit.note import Ed25519Signer, VerifierKey, b64, generate_key, parse_verifier_key, sign
from audit.tlog import consistency_proof, leaf_hash, tree_hash
from tests.conftest import run_gateway

LAUNCH = ("import sys; sys.modules['gateway'] = None\n"
          "from audit.cli import main\n"
          "main(sys.argv[1:], prog_name='audit')\n")


def run_audit_blocked(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", LAUNCH, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def keygen(directory: Path, name: str = "council.example.jp/witness") -> tuple[Path, VerifierKey]:
    path = directory / "witness.key"
    proc = run_audit_blocked("witness", "keygen", "--name", name, "-o", str(path))
    assert proc.returncode == 0, proc.stderr
    return path, parse_verifier_key(proc.stdout.strip())


@dataclass
class WitnessProcess:
    proc: subprocess.Popen[bytes]
    host: str
    port: int
    vkey: VerifierKey
    stderr_path: Path

    @classmethod
    def start(cls, key: Path, state: Path, logs: list[VerifierKey], stderr_path: Path,
              fault: str | None = None) -> WitnessProcess:
        env = {k: v for k, v in os.environ.items() if k != "AUDIT_WITNESS_FAULT"}
        if fault:
            env["AUDIT_WITNESS_FAULT"] = fault
        args = ["witness", "serve", "--listen", "127.0.0.1:0", "--key", str(key), "--state", str(state)]
        for log in logs:
            args += ["--log", str(log)]
        err = open(stderr_path, "ab")
        proc = subprocess.Popen([sys.executable, "-c", LAUNCH, *args], stdout=subprocess.PIPE, stderr=err, env=env)
        err.close()
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline().decode() if ready else ""
        if not line.startswith("listening on http://"):
            proc.kill()
            proc.wait()
            raise AssertionError(f"witness did not start: {line!r} {stderr_path.read_text(errors='replace')[-2000:]}")
        address, _, vkey = line.removeprefix("listening on http://").strip().partition("/ as ")
        host, _, port = address.rpartition(":")
        return cls(proc, host, int(port), parse_verifier_key(vkey), stderr_path)

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes


def add_checkpoint(conn: http.client.HTTPConnection, body: bytes) -> Reply:
    conn.request("POST", "/add-checkpoint", body=body, headers={"Content-Type": "text/plain"})
    resp = conn.getresponse()
    return Reply(resp.status, resp.getheader("Content-Type", ""), resp.read())


@dataclass
class Log:
    """A log as the gateway keeps one: leaves, and checkpoints signed with its note key."""
    origin: str = "kurume.example.jp/gateway"
    signer: Ed25519Signer = field(default_factory=lambda: generate_key("kurume.example.jp/gateway"))
    leaves: list[bytes] = field(default_factory=list)

    def grow(self, n: int, tag: bytes = b"entry") -> Log:
        start = len(self.leaves)
        self.leaves += [leaf_hash(tag + b" %d" % (start + i)) for i in range(n)]
        return self

    def fork(self, at: int, tag: bytes = b"rewritten") -> Log:
        """Another history: the same first `at` leaves, then different ones (same key)."""
        return Log(self.origin, self.signer, list(self.leaves[:at]))

    def note(self, size: int | None = None, signer: Ed25519Signer | None = None) -> bytes:
        size = len(self.leaves) if size is None else size
        text = cp.checkpoint(self.origin, size, tree_hash(self.leaves[:size])).text()
        return sign(text, [signer or self.signer])

    def request(self, old: int, size: int | None = None, proof: list[bytes] | None = None,
                signer: Ed25519Signer | None = None) -> bytes:
        size = len(self.leaves) if size is None else size
        if proof is None:
            proof = consistency_proof(self.leaves[:size], old)
        lines = [f"old {old}"] + [b64(p) for p in proof]
        return ("\n".join(lines) + "\n\n").encode() + self.note(size, signer)


def gateway_vkey(home: Path) -> VerifierKey:
    return parse_verifier_key(json.loads(run_gateway("keys", "show", "--json").stdout)["current_verifier_key"])


class Council:
    """The council secretariat's witness: its key, its state, its process (which may go down and
    come back, on the same address, with the state it kept)."""

    def __init__(self, root: Path, home: Path, name: str = "council.kurume.example.jp/witness") -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root, self.home = root, home
        self.key, self.vkey = keygen(root, name)
        self.logs = [gateway_vkey(home)]
        self.port = 0  # the system picks one at the first start; restarts reuse it
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Council:
        args = ["witness", "serve", "--listen", f"127.0.0.1:{self.port}", "--key", str(self.key),
                "--state", str(self.root / "state")]
        for log in self.logs:
            args += ["--log", str(log)]
        with open(self.root / "witness.err", "ab") as err:
            self.proc = subprocess.Popen([sys.executable, "-c", LAUNCH, *args], stdout=subprocess.PIPE, stderr=err)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline().decode() if ready else ""
        assert line.startswith("listening on http://127.0.0.1:"), (line, (self.root / "witness.err").read_text())
        self.port = int(line.split("127.0.0.1:")[1].split("/")[0])
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None
