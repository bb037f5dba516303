"""The blob store URL an operator writes (`[blobs] url`), checked when the settings are read.

`s3://BUCKET/PREFIX?endpoint=https://HOST:PORT&region=REGION`: an S3-compatible bucket (and a
prefix in it, so that several installations may share one bucket). No access key in it: the URL is
written into gateway.toml and shown by `gateway settings show`; the key comes from the environment.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from gateway.errors import Invalid

_EXAMPLE = "s3://BUCKET/PREFIX?endpoint=https://s3.example.lg.jp:8333&region=ap-northeast-1"


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str
    endpoint: str | None
    region: str | None

    @classmethod
    def parse(cls, url: str) -> S3Location:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        unknown = sorted(set(query) - {"endpoint", "region"})
        problem = ("", "")
        if parts.scheme != "s3" or not parts.hostname:
            problem = ("は s3://バケット名 で始めてください", "must start with s3://BUCKET")
        elif parts.username or parts.password:
            problem = ("にアクセスキーを書かないでください（環境変数 AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY で渡します）",
                       "must not hold an access key (give it in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)")
        elif unknown:
            problem = (f"に不明な項目があります: {', '.join(unknown)}（使えるのは endpoint と region）",
                       f"has unknown parameters: {', '.join(unknown)} (known: endpoint, region)")
        if problem[0]:
            shown = url.split("?", 1)[0].split("@")[-1][:80]
            raise Invalid(f"ブロブの保管先 URL（{shown}）{problem[0]}。例: {_EXAMPLE}",
                          f"the blob store URL ({shown}) {problem[1]}; for example {_EXAMPLE}")
        prefix = parts.path.strip("/")
        return cls(bucket=parts.netloc, prefix=prefix + "/" if prefix else "",
                   endpoint=_one(query, "endpoint"), region=_one(query, "region"))

    def key(self, blob_id: str) -> str:
        return f"{self.prefix}{blob_id[:2]}/{blob_id}"


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None
