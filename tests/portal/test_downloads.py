"""The package download over the API: the stored package byte for byte, with its length announced,
and logged as done only after the last byte was handed over."""
from __future__ import annotations

import hashlib

from tests.portal.conftest import bearer, log_entries


def test_package_download_is_whole_and_announces_its_length(portal, kurume_transfer):
    tid = kurume_transfer["transfer"]
    before = [e for e in log_entries(portal, action="transfer.download", outcome="ok") if e["object"]["transfer"] == tid]
    with bearer(portal, "k.tanaka") as (c, h):
        with c.stream("GET", f"/api/v1/transfers/{tid}/package", headers=h) as r:
            assert r.status_code == 200
            body = b"".join(r.iter_raw())
    assert int(r.headers["content-length"]) == len(body) and "transfer-encoding" not in r.headers
    assert body.startswith(b"age-encryption.org/v1\n")
    assert hashlib.sha256(body).hexdigest() == kurume_transfer["package_sha256"]
    after = [e for e in log_entries(portal, action="transfer.download", outcome="ok") if e["object"]["transfer"] == tid]
    assert len(after) == len(before) + 1
