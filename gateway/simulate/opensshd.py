"""A real OpenSSH sshd on 127.0.0.1 with its own temporary config and keys: the contractor's own
SFTP server that `gateway push` delivers to, in simulations, push tests and benchmarks.

It logs in as the account it runs under (root on the test machines, hence StrictModes off and no
PAM). Nothing here is an SSH library: sshd and ssh-keygen are the stock binaries, run as processes.
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import GatewayError, Invalid

SSHD = "/usr/sbin/sshd"


class SshdUnavailable(GatewayError):
    pass


def _missing(binary: str) -> SshdUnavailable:
    return SshdUnavailable(
        f"OpenSSH の {binary} が見つかりません。受託者の SFTP サーバーを模擬できません。"
        "`make setup`（openssh-server と openssh-client を入れます）を実行してから、やり直してください。",
        f"OpenSSH's {binary} was not found, so the contractor's SFTP server cannot be emulated. "
        "Run `make setup` (it installs openssh-server and openssh-client), then try again.")


def sshd_binary() -> str:
    found = SSHD if os.access(SSHD, os.X_OK) else shutil.which("sshd")
    if found is None:
        raise _missing("sshd")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path, comment: str = "") -> Path:
    binary = shutil.which("ssh-keygen")
    if binary is None:
        raise _missing("ssh-keygen")
    subprocess.run([binary, "-q", "-t", "ed25519", "-N", "", "-f", str(path), "-C", comment or path.name],
                   check=True)
    return path


def _login() -> str:
    # The account sshd runs under is the only one it can log in (as root: any, so root).
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return os.environ.get("USER") or "root"


@dataclass
class OpenSshd:
    root: Path  # config, keys, log
    port: int
    user: str
    host_key: Path  # private; `.pub` beside it
    authorized_keys: Path
    proc: subprocess.Popen | None = None

    @classmethod
    def create(cls, root: Path, *, host_key: Path | None = None) -> OpenSshd:
        sshd_binary()  # say so before making keys for a server that cannot start
        root.mkdir(parents=True, exist_ok=True)
        key = host_key or keygen(root / "ssh_host_ed25519_key", "sshd-host")
        authorized = root / "authorized_keys"
        authorized.touch()
        return cls(root, free_port(), _login(), key, authorized)

    def authorize(self, public_key_line: str) -> None:
        with self.authorized_keys.open("a") as f:
            f.write(public_key_line.strip() + "\n")

    def start(self) -> OpenSshd:
        binary = sshd_binary()
        config = self.root / "sshd_config"
        config.write_text("\n".join((
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",  # the temp directory belongs to root with the test's umask
            "PermitRootLogin prohibit-password",
            "Subsystem sftp internal-sftp",
            "PidFile none",
            "LogLevel ERROR",
            "",
        )))
        if os.getuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
        log = self.root / "sshd.log"
        with log.open("wb") as err:  # the child keeps its own descriptor
            self.proc = subprocess.Popen([binary, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                                         stderr=err)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                raise Invalid(f"sshd が起動直後に終了しました: {log.read_text(errors='replace')[-500:]}",
                                   f"sshd exited at start: {log.read_text(errors='replace')[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise Invalid("sshd が 10 秒以内に接続を受け付けませんでした。", "sshd did not start listening within 10 s.")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def host_key_line(self) -> str:
        return " ".join(Path(str(self.host_key) + ".pub").read_text().split()[:2])

    def __enter__(self) -> OpenSshd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
