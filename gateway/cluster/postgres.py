"""One PostgreSQL server from the system's binaries (Debian's postgresql), on 127.0.0.1 and a free
port, its data under a directory of its own: the database of the tests and of the fault battery.
(The failover set-up runs two under Patroni: patroni.py.)"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from gateway.cluster.procs import Missing, free_ports, postgres_user


def bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise Missing("PostgreSQL server binaries (postgresql)")
    return os.path.dirname(found[-1])


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
        """A fresh, empty database (one per test); its URL."""
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


def start(base: Path | None = None) -> PostgresServer:
    """initdb and start; `base` (made if need be, else a temporary directory) holds data and log."""
    binaries = bindir()
    if base is None:
        base = Path(tempfile.mkdtemp(prefix="gateway-pg-"))
    base.mkdir(parents=True, exist_ok=True)
    datadir = str(base / "data")
    run_as = postgres_user(base)
    subprocess.run([*run_as, f"{binaries}/initdb", "-D", datadir, "-U", "postgres", "--auth=trust",
                    "--encoding=UTF8", "--locale=C.UTF-8"], check=True, capture_output=True)
    (port,) = free_ports(1)
    options = f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c full_page_writes=off"
    subprocess.run([*run_as, f"{binaries}/pg_ctl", "-D", datadir, "-o", options, "-l", str(base / "log"),
                    "-w", "-t", "60", "start"], check=True, capture_output=True)
    return PostgresServer(port=port, datadir=datadir, bindir=binaries, run_as=run_as, options=options)
