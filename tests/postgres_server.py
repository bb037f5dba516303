"""A throwaway PostgreSQL server for the test session, from the system's binaries.

Runs as the `postgres` system user when we are root (initdb refuses root), on 127.0.0.1 and a
free port, in a temporary directory; stopped and removed when the session ends.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass


def _bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries are missing: run `make setup` (installs postgresql)")
    return os.path.dirname(found[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    port: int
    datadir: str
    bindir: str
    run_as: list[str]
    options: str = ""

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def new_database(self) -> str:
        """A fresh, empty database for one test; its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def kill(self) -> None:
        """Stop the server at once (no shutdown checkpoint, as a crash or a pulled cable), keeping its data."""
        subprocess.run([*self.run_as, f"{self.bindir}/pg_ctl", "-D", self.datadir, "-m", "immediate", "-w", "stop"],
                       capture_output=True, check=False)

    def restart(self) -> None:
        """Start it again on the same port and data (after `kill`): it recovers from its WAL."""
        subprocess.run([*self.run_as, f"{self.bindir}/pg_ctl", "-D", self.datadir, "-o", self.options, "-l",
                        os.path.join(os.path.dirname(self.datadir), "log"), "-w", "-t", "60", "start"],
                       check=True, capture_output=True)

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(os.path.dirname(self.datadir), ignore_errors=True)


def start() -> PostgresServer:
    bindir = _bindir()
    base = tempfile.mkdtemp(prefix="gateway-pg-")
    datadir = os.path.join(base, "data")
    run_as: list[str] = []
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        os.chown(base, pg.pw_uid, pg.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*run_as, f"{bindir}/initdb", "-D", datadir, "-U", "postgres", "--auth=trust",
                    "--encoding=UTF8", "--locale=C.UTF-8"], check=True, capture_output=True)
    port = _free_port()
    options = f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c full_page_writes=off"
    subprocess.run([*run_as, f"{bindir}/pg_ctl", "-D", datadir, "-o", options, "-l", os.path.join(base, "log"),
                    "-w", "-t", "60", "start"], check=True, capture_output=True)
    return PostgresServer(port=port, datadir=datadir, bindir=bindir, run_as=run_as, options=options)
