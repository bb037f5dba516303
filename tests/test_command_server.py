"""`gateway command-server`: scripted commands forked from a warm parent behave as the fresh
processes they replace (output, exit status, signals, environment), and anything the server cannot
vouch for runs in the client's own process."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from gateway.command_server import wire
from tests.conftest import BIN, REHEARSAL_START

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


class Server:
    def __init__(self, home: Path, log: Path) -> None:
        self.home, self.log_path = home, log
        self.socket = Path(wire.socket_path(str(home)))
        self.proc = subprocess.Popen([str(BIN / "gateway"), "command-server"], stdout=subprocess.DEVNULL,
                                     stderr=log.open("w"), start_new_session=True)
        deadline = time.monotonic() + 60
        while not self.socket.exists():
            assert self.proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the command server did not start"
            time.sleep(0.05)

    def ran(self) -> list[str]:
        return [line for line in self.log_path.read_text().splitlines() if line.startswith("command ")]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=30) == 0, self.log_path.read_text()


@pytest.fixture
def server(home, tmp_path):
    served = Server(home, tmp_path / "server.log")
    yield served
    if served.proc.poll() is None:
        served.stop()
    assert not served.socket.exists()


def gateway(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    """The console script as a script or cron runs it: no controlling terminal."""
    return subprocess.run([str(BIN / "gateway"), *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, start_new_session=True, **kw)


def same(a: subprocess.CompletedProcess, b: subprocess.CompletedProcess) -> None:
    assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr)


def test_commands_through_the_server_answer_as_fresh_processes_do(home, tmp_path, server):
    cases = [("user", "list"), ("approval", "show", "no-such-approval"), ("--version",), ("send", "--no-such-option"),
             ("keys", "show", "--json")]
    served = {args: gateway(*args) for args in cases}
    assert len(server.ran()) == len(cases)  # every one of them went through the server
    server.stop()
    for args in cases:
        same(served[args], gateway(*args))  # the same output and status from a fresh process
    assert served[("approval", "show", "no-such-approval")].returncode == 1
    assert served[("send", "--no-such-option")].returncode == 2


def test_the_command_gets_the_clients_directory_environment_and_umask(home, tmp_path, server):
    work = tmp_path / "work"
    work.mkdir()
    out = gateway("generate", "recipients", "--count", "3", "--schema", "kurume-2020", "--seed", "7", "-o", "r.csv",
                  cwd=work, env={"GATEWAY_SCRYPT_WORK_FACTOR": "10"})
    assert out.returncode == 0, out.stderr
    assert (work / "r.csv").is_file()  # relative to the client's directory, not the server's
    other = tmp_path / "other-home"
    made = gateway("init", "--rehearsal", env={"GATEWAY_HOME": str(other), "GATEWAY_FAKE_NOW": REHEARSAL_START,
                                               "GATEWAY_DB_URL": f"sqlite:///{tmp_path / 'other.db'}"})
    assert made.returncode == 0, made.stderr
    assert (other / "keys").is_dir()  # the client's GATEWAY_HOME, though it has no server of its own
    assert len(server.ran()) == 1  # that one ran in the client's process: no server for its home


def test_a_command_that_dies_of_a_signal_takes_its_client_with_it(home, server):
    died = gateway("retention", "sweep", env={"GATEWAY_FAULT_POINT": "sweep:before-rotation"})
    assert died.returncode == -signal.SIGKILL
    assert server.ran()[-1].endswith("signal 9")


def test_signals_reach_the_command_and_a_killed_client_kills_it(home, server):
    follow = subprocess.Popen([str(BIN / "gateway"), "log", "--follow"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, start_new_session=True)
    assert follow.stdout.readline()  # the log's last entries shown: following now, its handler set
    follow.send_signal(signal.SIGTERM)  # forwarded: the command stops as it does on SIGTERM
    assert follow.wait(timeout=30) == 0
    wait_for(lambda: server.ran()[-1].endswith("exit 0"))

    follow = subprocess.Popen([str(BIN / "gateway"), "log", "--follow"], stdout=subprocess.DEVNULL,
                              start_new_session=True)
    wait_for(lambda: len(running_children(server.proc.pid)) == 1)
    follow.kill()  # no chance to forward anything: the server sees the connection drop
    follow.wait(timeout=30)
    wait_for(lambda: not running_children(server.proc.pid))
    assert server.ran()[-1].endswith("signal 9")


def test_a_server_running_other_code_declines_and_the_command_runs_here(home, server):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(server.socket))
        wire.send_request(sock, {"argv": ["user", "list"], "cwd": "/", "env": {}, "umask": 0o077, "code": "other"})
        answer = json.loads(sock.makefile("rb").readline())
    assert "code changed" in answer["declined"]
    assert not server.ran()


def test_a_command_with_a_terminal_runs_in_its_own_process(home, server):
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(str(BIN / "gateway"), ["user", "list"], env=dict(os.environ), encoding="utf-8", timeout=60)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and "admin" in child.before
    assert not server.ran()  # a prompt would read /dev/tty, which a forked child cannot reach


def test_a_second_server_for_the_same_home_is_refused(home, server):
    second = gateway("command-server")
    assert second.returncode == 1
    assert "already listens" in second.stderr
    assert server.socket.exists()


def running_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children]


def wait_for(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
