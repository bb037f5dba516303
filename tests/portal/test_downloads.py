"""The package download over the API: the stored package byte for byte, and in the log by the time
the client has the whole of it (the chunked body ends only after the download was logged)."""
from __future__ import annotations

import hashlib

from tests.portal.conftest import bearer, log_entries, send_via_api


def test_package_download_is_whole_and_logged_when_it_ends(portal, recipients_file):
    # A package of its own: it allows one complete download (issue 20), which is this one.
    sent = send_via_api(portal, recipients_file)
    tid = sent["transfer"]
    before = [e for e in log_entries(portal, action="transfer.download", outcome="ok") if e["object"]["transfer"] == tid]
    with bearer(portal, "k.tanaka") as (c, h):
        with c.stream("GET", f"/api/v1/transfers/{tid}/package", headers=h) as r:
            assert r.status_code == 200
            body = b"".join(r.iter_raw())
    assert r.headers["transfer-encoding"] == "chunked" and "content-length" not in r.headers
    assert body.startswith(b"age-encryption.org/v1\n")
    assert hashlib.sha256(body).hexdigest() == sent["package_sha256"]
    # Asked at once, with no wait: the download's entry was committed before the body ended.
    after = [e for e in log_entries(portal, action="transfer.download", outcome="ok") if e["object"]["transfer"] == tid]
    assert len(after) == len(before) + 1
    # A second complete download would be a copy (複写の禁止): refused, and the refusal logged.
    with bearer(portal, "k.tanaka") as (c, h):
        assert c.get(f"/api/v1/transfers/{tid}/package", headers=h).status_code == 422
    refused = [e for e in log_entries(portal, action="transfer.download", outcome="refused") if e["object"]["transfer"] == tid]
    assert [e["kinds"] for e in refused] == [["download-over-limit"]]
