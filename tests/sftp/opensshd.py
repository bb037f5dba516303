"""A real OpenSSH sshd on 127.0.0.1 with its own temporary config and keys, for push tests and
the benchmark. Tests run as root, so it logs in as root, with StrictModes off and no PAM."""
from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path, comment: str = "") -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path), "-C", comment or path.name],
                   check=True)
    return path


@dataclass
class OpenSshd:
    root: Path  # config, keys, log
    port: int
    user: str
    host_key: Path  # private; `.pub` beside it
    authorized_keys: Path
    proc: subprocess.Popen | None = None

    @classmethod
    def create(cls, root: Path, *, host_key: Path | None = None) -> "OpenSshd":
        root.mkdir(parents=True, exist_ok=True)
        key = host_key or keygen(root / "ssh_host_ed25519_key", "sshd-host")
        authorized = root / "authorized_keys"
        authorized.touch()
        return cls(root, free_port(), os.environ.get("USER") or "root", key, authorized)

    def authorize(self, public_key_line: str) -> None:
        with self.authorized_keys.open("a") as f:
            f.write(public_key_line.strip() + "\n")

    def start(self) -> "OpenSshd":
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
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                                     stderr=(self.root / "sshd.log").open("wb"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {(self.root / 'sshd.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not start listening")

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

    def __enter__(self) -> "OpenSshd":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
