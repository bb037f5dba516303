"""A mistyped `[blobs] url` is refused when the settings are read, bilingually, with an example;
an access key written into it is refused too (the URL is shown by `gateway settings show`)."""
from __future__ import annotations

import pytest

from gateway.bloburl import S3Location
from gateway.errors import Invalid
from gateway.settings import load


def test_a_good_url_names_bucket_prefix_endpoint_and_region():
    where = S3Location.parse("s3://gateway-blobs/kurume/prod?endpoint=http://127.0.0.1:8333&region=ap-northeast-1")
    assert (where.bucket, where.prefix, where.endpoint, where.region) == \
        ("gateway-blobs", "kurume/prod/", "http://127.0.0.1:8333", "ap-northeast-1")
    assert where.key("ab12cd") == "kurume/prod/ab/ab12cd"


@pytest.mark.parametrize("url, en", [
    ("https://s3.example/bucket", "must start with s3://BUCKET"),
    ("s3://AKIA:secret@gateway-blobs/x", "must not hold an access key"),
    ("s3://gateway-blobs?endpont=http://x", "unknown parameters: endpont"),
])
def test_a_bad_url_is_refused_with_what_to_write(tmp_path, url, en):
    (tmp_path / "gateway.toml").write_text(f'[blobs]\nurl = "{url}"\n', encoding="utf-8")
    with pytest.raises(Invalid) as err:
        load(tmp_path, environ={})
    assert en in err.value.en and "s3://BUCKET/PREFIX?endpoint=" in err.value.en
    assert "ブロブの保管先" in err.value.ja and "secret" not in err.value.ja + err.value.en


def test_the_outage_wait_is_range_checked(tmp_path):
    with pytest.raises(Invalid) as err:
        load(tmp_path, environ={"GATEWAY_BLOBS_OUTAGE_WAIT_SECONDS": "0"})
    assert "blobs.outage_wait_seconds" in err.value.en
