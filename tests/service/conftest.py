"""`gateway serve` as systemd runs it: a real process, a real NOTIFY_SOCKET, real clients."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import BIN
from tests.sftp.conftest import installation  # noqa: F401  (fixture: init, approval, a key, one send)


@dataclass
class Service:
    proc: subprocess.Popen
    notify: socket.socket
    ports: dict[str, int]
    ready_seconds: float
    states: list[str] = field(default_factory=list)
    signalled: bool = False

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.ports['monitor']}{path}"

    def get(self, path: str) -> tuple[int, str, str]:
        try:
            with urllib.request.urlopen(self.url(path), timeout=10) as r:
                return r.status, r.headers["Content-Type"], r.read().decode("utf-8")
        except urllib.error.HTTPError as err:
            return err.code, err.headers["Content-Type"], err.read().decode("utf-8")

    def terminate(self) -> None:
        """One SIGTERM, as systemd sends (a second one during Python's own exit would kill it)."""
        self.proc.send_signal(signal.SIGTERM)
        self.signalled = True

    def next_state(self, timeout: float = 30.0) -> str:
        self.notify.settimeout(timeout)
        state = self.notify.recv(4096).decode("utf-8")
        self.states.append(state)
        return state

    def stop(self, timeout: float = 60.0) -> tuple[int, list[dict], str]:
        """SIGTERM, as systemd stops a unit; returns the exit code, the operational log (every
        stderr line that is JSON) and the rest of stderr."""
        if not self.signalled:
            self.terminate()
        _, err = self.proc.communicate(timeout=timeout)
        lines = [line for line in err.splitlines() if line.strip()]
        oplog = [json.loads(line) for line in lines if line.startswith("{")]
        rest = "\n".join(line for line in lines if not line.startswith("{"))
        return self.proc.returncode, oplog, rest


def start(home: Path, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Service:
    """`gateway serve ARGS` with $NOTIFY_SOCKET on a datagram socket of ours; returns once it said READY=1."""
    path = tmp_path / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(path))
    began = time.monotonic()
    proc = subprocess.Popen([str(BIN / "gateway"), "--home", str(home), "serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NOTIFY_SOCKET": str(path), **(env or {})})
    service = Service(proc, notify, {}, 0.0)
    try:
        assert service.next_state(60) == "READY=1\nSTATUS=serving"
    except TimeoutError:
        proc.kill()
        raise AssertionError(proc.communicate()) from None
    service.ready_seconds = time.monotonic() - began
    # Every listener is announced on stdout ("LABEL: ADDRESS:PORT[/]") before READY=1.
    labels = {"--sftp-port": "SFTP:", "--portal-port": "portal:", "--metrics-port": "monitor:", "--help-port": "help:"}
    expected = {labels[a] for a in args if a in labels}
    while len(service.ports) < len(expected):
        line = proc.stdout.readline()
        assert line, "serve ended before announcing its ports"
        for label in expected:
            if label in line:
                service.ports[label.rstrip(":").lower()] = int(line.strip().rsplit(":", 1)[1].split("/")[0])
    return service


@pytest.fixture
def today_home(tmp_path):
    """A home made today on the real clock: its TLS certificates verify for a real TLS client."""
    home = tmp_path / "today"
    env = {k: v for k, v in os.environ.items() if k not in ("GATEWAY_FAKE_NOW", "GATEWAY_DB_URL", "GATEWAY_HOME")}
    subprocess.run([str(BIN / "gateway"), "--home", str(home), "init"], env=env, check=True, capture_output=True)
    return home


@pytest.fixture
def serving(request, tmp_path):
    """Starts `gateway serve` on `home`, by default the module's installation (made on first use)."""
    started: list[Service] = []

    def run(*args: str, env: dict[str, str] | None = None, home: Path | None = None) -> Service:
        home = home or request.getfixturevalue("installation").home
        service = start(home, tmp_path, *args, env=env)
        started.append(service)
        return service

    yield run
    for service in started:
        if service.proc.poll() is None:
            service.proc.kill()
            service.proc.communicate()
        service.notify.close()
