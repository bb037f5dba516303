"""`gateway command-server`: scripted commands forked from a warm parent behave as the fresh
processes they replace (output, exit status, signals, environment), and anything the server cannot
vouch for runs in the client's own process."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
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


def test_the_command_gets_the_clients_directory_and_environment(home, tmp_path, server):
    work = tmp_path / "work"
    work.mkdir()
    out = gateway("generate", "recipients", "--count", "3", "--schema", "kurume-2020", "--seed", "7", "-o", "r.csv",
                  cwd=work)
    assert out.returncode == 0, out.stderr
    assert (work / "r.csv").is_file()  # relative to the client's directory, not the server's
    shown = gateway("settings", "show", "--json", env={"GATEWAY_SCRYPT_WORK_FACTOR": "12"})
    assert json.loads(shown.stdout)["scrypt"]["work_factor"] == 12  # the client's environment
    assert len(server.ran()) == 2
    other = tmp_path / "other-home"
    made = gateway("init", "--rehearsal", env={"GATEWAY_HOME": str(other), "GATEWAY_FAKE_NOW": REHEARSAL_START,
                                               "GATEWAY_DB_URL": f"sqlite:///{tmp_path / 'other.db'}"})
    assert made.returncode == 0, made.stderr
    assert (other / "keys").is_dir()  # the client's GATEWAY_HOME, though it has no server of its own
    assert len(server.ran()) == 2  # that one ran in the client's process: no server for its home


def test_services_and_closed_streams_run_in_the_clients_own_process(home, server):
    from gateway.command_server import client

    for argv in (["serve", "--portal-port", "0"], ["hotfolder", "run"], ["cluster", "status"], ["command-server"]):
        assert client._runs_here(argv)  # their own process under their own unit, never a fork
    closed = subprocess.run([str(BIN / "gateway"), "user", "list"], capture_output=True, text=True,
                            start_new_session=True, preexec_fn=lambda: os.close(0), timeout=60)
    assert closed.returncode == 0 and "admin" in closed.stdout
    assert not server.ran()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to play another user's server")
def test_a_socket_of_another_user_is_told_nothing(tmp_path, db_url):
    """A home in a shared directory (./var by default) where another user listens first."""
    shared = tempfile.TemporaryDirectory(dir="/tmp")  # pytest's own directories are root's alone
    fake = Path(shared.name)
    (fake / "var" / "run").mkdir(parents=True)
    for d in (fake, fake / "var", fake / "var" / "run"):
        d.chmod(0o777)
    heard = fake / "heard"
    script = (
        "import os, socket, sys\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); print('up', flush=True)\n"
        "c, _ = s.accept(); data = c.recv(65536)\n"
        "open(sys.argv[2], 'w').write(str(len(data)))\n"
        "c.sendall(b'{\"pid\": 1}\\n{\"exit\": 0}\\n')\n"
    )
    liar = subprocess.Popen([sys.executable, "-c", script, str(fake / "var" / "run" / "commands.sock"), str(heard)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert liar.stdout.readline().strip() == "up"
        env = {k: v for k, v in os.environ.items() if k != "GATEWAY_HOME"}
        version = subprocess.run([str(BIN / "gateway"), "--version"], capture_output=True, text=True, cwd=fake,
                                 env=env, start_new_session=True, timeout=60)
        assert version.returncode == 0 and version.stdout.startswith("gateway ")  # ran here, not faked
        liar.wait(timeout=30)
        assert heard.read_text() == "0"  # connected, then told nothing: no environment, no streams
    finally:
        liar.kill()
        liar.wait()
        shared.cleanup()


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
