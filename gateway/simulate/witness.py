"""The council secretariat's witness in a rehearsal: a real `audit witness serve` process.

It is another party, so it is another program with its own key and state (`DIR/witness/`), on
127.0.0.1 and a port the system picks, started as the auditor's package ships it (`python -m
audit witness ...`; it imports nothing of the gateway). The simulation configures it the way a
city would (`gateway witness add`), publishes the trust policy naming it (`gateway keys publish`),
and runs the gateway's background submitter, as `gateway serve` does, while the scenario plays.
"""
from __future__ import annotations

import select
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from gateway.data import approvals_dir
from gateway.errors import Unavailable
from gateway.ledger.log import Actor
from gateway.operations import witnesses
from gateway.operations.trust import Published, current_verifier_key, publish
from gateway.service import Gateway
from gateway.simulate.scenario import Scenario
from gateway.witnessing.background import Submitter

START_SECONDS = 30


def city_of(scenario: Scenario) -> str:
    """The city whose gateway this is: the first approval's `[city] id`."""
    path = approvals_dir() / f"{scenario.approvals[0]}.toml"
    return str(tomllib.loads(path.read_text(encoding="utf-8"))["city"]["id"])


def origin_of(scenario: Scenario) -> str:
    return f"{city_of(scenario)}.example.jp/gateway"


@dataclass
class Witness:
    directory: Path
    name: str
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""
    vkey: str = ""
    submitter: Submitter | None = None
    policy: Published | None = None

    def start(self, gw: Gateway) -> Witness:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = self.directory / "witness.key"
        if not key.exists():
            made = subprocess.run([sys.executable, "-m", "audit", "witness", "keygen", "--name", self.name,
                                   "-o", str(key)], capture_output=True, text=True, timeout=60)
            if made.returncode != 0:
                raise Unavailable("ウィットネスの鍵を作れませんでした。",
                                  f"the witness key was not made: {made.stderr[-300:]}")
        with open(self.directory / "witness.log", "ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "audit", "witness", "serve", "--listen", "127.0.0.1:0", "--key", str(key),
                 "--state", str(self.directory / "state"), "--log", current_verifier_key(gw)],
                stdout=subprocess.PIPE, stderr=err)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], START_SECONDS)
        line = self.proc.stdout.readline().decode("utf-8", "replace") if ready else ""
        if not line.startswith("listening on http://"):
            self.stop()
            tail = (self.directory / "witness.log").read_text(encoding="utf-8", errors="replace")[-300:]
            raise Unavailable("ウィットネスが起動しませんでした。", f"the witness did not start: {line!r} {tail}")
        address, _, self.vkey = line.removeprefix("listening on ").strip().partition(" as ")
        self.url = address.rstrip("/")
        return self

    def stop(self) -> None:
        """The witness goes away (the end of the rehearsal, or a fault: it is down)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None


class Witnessed:
    """Start the witness, configure it, publish the policy, submit in the background; undo at exit."""

    def __init__(self, gw: Gateway, directory: Path, scenario: Scenario, policy_path: Path, actor: Actor) -> None:
        self.gw, self.policy_path, self.actor = gw, policy_path, actor
        self.witness = Witness(directory, f"council.{city_of(scenario)}.example.jp/witness")

    def __enter__(self) -> Witness:
        w = self.witness.start(self.gw)
        try:
            added = witnesses.add(self.gw, w.url, w.vkey, self.actor)
            if added.first is None or added.first.error is not None:
                raise Unavailable("ウィットネスが最初のチェックポイントに連署しませんでした。",
                                  f"the witness did not cosign the first checkpoint: {added.first}")
            w.policy = publish(self.gw, self.policy_path, self.actor)
            w.submitter = Submitter(self.gw).start()
        except BaseException:
            w.stop()
            raise
        return w

    def __exit__(self, *exc: object) -> None:
        try:
            if self.witness.submitter is not None:
                self.witness.submitter.stop()
        finally:
            self.witness.stop()
