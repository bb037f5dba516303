"""Blobs as objects in an S3-compatible store (SeaweedFS in the tests, any S3 in production), so
that every gateway node sees the same ciphertext.

`[blobs] url = "s3://BUCKET/PREFIX?endpoint=https://HOST:PORT&region=REGION"`. The access key comes
from boto3's usual chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, ~/.aws, an instance role),
never from the URL: the URL is written into gateway.toml and shown by `gateway settings show`.

A store that does not answer is waited for, up to `[blobs] outage_wait_seconds`, then the operation
is refused as unavailable (`BlobStoreUnavailable`). A send whose package could not be stored records
nothing, so it can simply be sent again; a receipt refused this way leaves the package in place.
An upload is whole or absent: a single PUT or a multipart upload the store assembles only at its end.
"""
from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from gateway.bloburl import S3Location
from gateway.clock import monotonic
from gateway.errors import Unavailable
from gateway.store.objects import Fill

T = TypeVar("T")
_MISSING = {"404", "NoSuchKey", "NotFound"}


class BlobStoreUnavailable(Unavailable):
    def __init__(self, where: str, waited: float, cause: str) -> None:
        super().__init__(
            f"データの保管先（オブジェクトストア {where}）が {waited:.0f} 秒応答しないため、処理を中止しました。"
            "送付は記録されておらず、お手元のファイルもそのままです。しばらくしてからもう一度操作してください。"
            "続く場合は管理者に連絡してください（管理者は保管先の稼働を確認してください）。",
            f"the gateway's data store (object store {where}) did not answer for {waited:.0f} s, so the operation "
            "stopped: nothing was recorded and your file is unchanged; try again in a while. If it persists, tell "
            "the administrator, who checks that the object store is running.",
            detail=f"object store {where} unavailable: {cause}",
        )


class S3Objects:
    def __init__(self, location: S3Location, *, spool: Path, outage_wait_seconds: int) -> None:
        self.location = location
        self.spool = spool
        self.outage_wait_seconds = outage_wait_seconds
        self.client: Any = boto3.session.Session().client(
            "s3", endpoint_url=location.endpoint, region_name=location.region or "us-east-1",
            config=Config(connect_timeout=2, read_timeout=30, retries={"max_attempts": 1, "mode": "standard"},
                          s3={"addressing_style": "path"}))

    @classmethod
    def from_url(cls, url: str, *, spool: Path, outage_wait_seconds: int) -> S3Objects:
        return cls(S3Location.parse(url), spool=spool, outage_wait_seconds=outage_wait_seconds)

    def store(self, blob_id: str, fill: Fill) -> None:
        # Encrypted into an anonymous local file first (ciphertext only, gone when closed), so that
        # a store that drops mid-upload can be retried from the start without re-reading the source.
        self.spool.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=self.spool) as spooled:
            fill(spooled)
            self.upload(blob_id, spooled)

    def begin(self, blob_id: str) -> _SpooledUpload:
        self.spool.mkdir(mode=0o700, parents=True, exist_ok=True)
        return _SpooledUpload(self, blob_id, tempfile.TemporaryFile(dir=self.spool))

    def upload(self, blob_id: str, spooled: BinaryIO) -> None:
        """The spooled ciphertext as the object, retried from its start while the store is out."""
        def attempt_upload() -> None:
            # boto3 closes the file it was given when an upload fails: each attempt gets its own.
            with open(os.dup(spooled.fileno()), "rb") as attempt:
                attempt.seek(0)
                self.client.upload_fileobj(attempt, self.location.bucket, self.location.key(blob_id))
        self._patiently(attempt_upload)

    def open(self, blob_id: str) -> BinaryIO:
        try:
            response = self._patiently(
                lambda: self.client.get_object(Bucket=self.location.bucket, Key=self.location.key(blob_id)))
        except ClientError as err:
            if _code(err) in _MISSING:
                raise FileNotFoundError(self.where(blob_id)) from None
            raise
        return _Body(response["Body"], self.where(blob_id))  # type: ignore[return-value]

    def remove(self, blob_id: str) -> bool:
        self._patiently(lambda: self.client.delete_object(Bucket=self.location.bucket, Key=self.location.key(blob_id)))
        return not self.exists(blob_id)

    def exists(self, blob_id: str) -> bool:
        try:
            self._patiently(lambda: self.client.head_object(Bucket=self.location.bucket, Key=self.location.key(blob_id)))
        except ClientError as err:
            if _code(err) in _MISSING:
                return False
            raise
        return True

    def older_than(self, cutoff: float) -> Iterator[str]:
        pages = self._patiently(lambda: list(self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.location.bucket, Prefix=self.location.prefix)))
        for page in pages:
            for item in page.get("Contents", []):
                name = item["Key"].rsplit("/", 1)[-1]
                if item["LastModified"].timestamp() < cutoff:
                    yield name

    def where(self, blob_id: str) -> str:
        return f"s3://{self.location.bucket}/{self.location.key(blob_id)}"

    def _patiently(self, call: Callable[[], T]) -> T:
        """`call`, retried while the store is unreachable or answers 5xx, for at most the outage wait."""
        started = monotonic()
        delay = 0.2
        while True:
            try:
                return call()
            except (ClientError, BotoCoreError) as err:
                if isinstance(err, ClientError) and not _transient(err):
                    raise
                waited = monotonic() - started
                if waited + delay > self.outage_wait_seconds:
                    raise BlobStoreUnavailable(f"s3://{self.location.bucket}", waited, f"{type(err).__name__}: {err}")\
                        from None
                time.sleep(delay)
                delay = min(delay * 2, 5.0)


class _SpooledUpload:
    """An object written as its bytes arrive: spooled (ciphertext only, in an anonymous file gone
    when closed) and uploaded whole on commit, so that a store that drops mid-upload can be
    retried from the start without asking the writer again."""

    def __init__(self, store: S3Objects, blob_id: str, spooled: BinaryIO) -> None:
        self.store, self.blob_id, self.spooled = store, blob_id, spooled

    def write(self, data: bytes) -> int:
        return self.spooled.write(data)

    def commit(self) -> None:
        try:
            self.store.upload(self.blob_id, self.spooled)
        finally:
            self.spooled.close()

    def discard(self) -> None:
        self.spooled.close()


class _Body:
    """An object's bytes as a file to read; a connection lost mid-read is the store's outage,
    never the blob's damage (which the decryption reports on its own)."""

    def __init__(self, body: Any, where: str) -> None:
        self.body = body
        self.where_ = where

    def read(self, n: int = -1) -> bytes:
        try:
            return self.body.read(None if n < 0 else n)
        except (BotoCoreError, OSError) as err:
            raise BlobStoreUnavailable(self.where_, 0, f"{type(err).__name__}: {err}") from None

    def close(self) -> None:
        self.body.close()

    def __enter__(self) -> _Body:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _transient(err: ClientError) -> bool:
    status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return status >= 500 or _code(err) in {"SlowDown", "ServiceUnavailable", "RequestTimeout", "InternalError"}
