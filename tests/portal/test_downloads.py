"""The package download over the API: the stored package byte for byte, and in the log by the time
the client has the whole of it (the chunked body ends only after the download was logged)."""
from __future__ import annotations

import hashlib

from tests.portal.conftest import bearer, log_entries


def test_package_download_is_whole_and_logged_when_it_ends(portal, kurume_transfer):
    tid = kurume_transfer["transfer"]
    before = [e for e in log_entries(portal, action="transfer.download", outcome="ok") if e["object"]["transfer"] == tid]
    with bearer(portal, "k.tanaka") as (c, h):
        with c.stream("GET", f"/api/v1/transfers/{tid}/package", headers=h) as r:
            assert r.status_code == 200
            body = b"".join(r.iter_raw())
    assert r.headers["transfer-encoding"] == "chunked" and "content-length" not in r.headers
    assert body.startswith(b"age-encryption.org/v1\n")
    assert hashlib.sha256(body).hexdigest() == kurume_transfer["package_sha256"]
    # Asked at once, with no wait: the download's entry was committed before the body ended.
    after = [e for e in log_entries(portal, action="transfer.download", outcome="ok") if e["object"]["transfer"] == tid]
    assert len(after) == len(before) + 1
