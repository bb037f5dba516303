"""Kurume's VPN line is for the set-up only (`first_transfer_only`): sends begun at the same
instant over it cannot both be the first. The early check of a send can pass for all of them;
the transaction that records a send asks again under the log's head lock (issue 20)."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import run_gateway
from tests.helpers import send

AT_ONCE = 3


def test_sends_at_once_over_a_first_transfer_only_line_give_exactly_one_transfer(kurume, home, tmp_path):
    def one(i: int):
        return send(kurume, tmp_path / str(i), check=False, profile="vpn-sftp")

    for i in range(AT_ONCE):
        (tmp_path / str(i)).mkdir()
    with ThreadPoolExecutor(AT_ONCE) as pool:
        results = list(pool.map(one, range(AT_ONCE)))
    assert sorted(r.returncode for r in results) == [0] + [1] * (AT_ONCE - 1), [r.stderr for r in results]
    for refused in (r for r in results if r.returncode == 1):
        assert json.loads(refused.stdout)["kinds"] == ["unapproved-channel"]
    sends = [e for e in json.loads(run_gateway("log", "--action", "transfer.send", "--json").stdout)
             if e["object"].get("approval") == "kurume-2020-teigaku"]
    assert sorted(e["outcome"] for e in sends) == ["ok"] + ["refused"] * (AT_ONCE - 1)
