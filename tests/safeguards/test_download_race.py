"""Downloads begun at the same instant against one database (issue 20): the limit is checked and
counted in one conditional UPDATE, so of four gateways (four connection pools, as four processes
or nodes would have) downloading one package at once, exactly the limit pass, on SQLite and on
PostgreSQL (issue 24 runs several nodes on one database)."""
from __future__ import annotations

import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor

from gateway.errors import Refused
from gateway.home import Home
from gateway.operations.accounts import Caller
from gateway.operations.receive import download
from gateway.service import Gateway
from tests.conftest import run_gateway
from tests.helpers import send

AT_ONCE = 4


def test_downloads_begun_at_once_pass_exactly_as_often_as_the_limit_allows(kurume, home, tmp_path):
    transfer = json.loads(send(kurume, tmp_path).stdout)["transfer"]
    gateways = [Gateway.open(Home.resolve(str(home))) for _ in range(AT_ONCE)]
    start = threading.Barrier(AT_ONCE)

    def fetch(gw: Gateway) -> str:
        out = io.BytesIO()
        start.wait()
        try:
            download(gw, Caller("k.tanaka", "cli"), transfer, out)
        except Refused as err:
            return ",".join(err.kinds)
        assert out.getvalue().startswith(b"age-encryption.org/v1\n")
        return "ok"

    try:
        with ThreadPoolExecutor(AT_ONCE) as pool:
            results = sorted(pool.map(fetch, gateways))
    finally:
        for gw in gateways:
            gw.engine.dispose()
    assert results == ["download-over-limit"] * (AT_ONCE - 1) + ["ok"]
    entries = [e for e in json.loads(run_gateway("log", "--action", "transfer.download", "--json").stdout)
               if e["object"]["transfer"] == transfer]
    assert sorted(e["outcome"] for e in entries) == ["ok"] + ["refused"] * (AT_ONCE - 1)
