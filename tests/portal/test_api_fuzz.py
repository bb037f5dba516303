"""Property-based fuzzing of the portal's API from its own OpenAPI document (schemathesis), against
the real portal over mutual TLS (issue 19, the standing battery).

For every operation and two callers (city staff and a contractor's designated handler), requests
generated from the schema, and outside it, must never get a 5xx or a traceback, and a refused
request (any 4xx) must change nothing: no transfer, deletion, deliverable or blob appears or
changes. `make test` runs a few examples per operation; `make fuzz` sets GATEWAY_FUZZ_EXAMPLES
higher. The counts are written to test-output/fuzz/api.json.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from sqlalchemy import func, select

from gateway.store import models as m
from gateway.store.models_deliverables import Deliverable
from tests.conftest import REPO
from tests.portal.conftest import PASSWORD, Portal

EXAMPLES = int(os.environ.get("GATEWAY_FUZZ_EXAMPLES", "8"))
COUNTS: Counter[str] = Counter()


def _state(portal: Portal) -> tuple[Any, ...]:
    """What a refused request must leave as it was."""
    with portal.gw.read() as s:
        return (
            tuple(s.execute(select(m.Transfer.id, m.Transfer.state, m.Transfer.received_at)
                            .order_by(m.Transfer.id)).all()),
            tuple(s.execute(select(m.ContractorDeletion.id, m.ContractorDeletion.state)
                            .order_by(m.ContractorDeletion.id)).all()),
            s.scalar(select(func.count()).select_from(Deliverable)),
            s.scalar(select(func.count()).select_from(m.Blob)),
        )


def _items(files: Any) -> list[tuple[str, Any]]:
    return list(files.items()) if isinstance(files, dict) else list(files)


def _part(value: Any) -> Any:
    if isinstance(value, tuple):
        name, content, *rest = value
        return (str(name), _bytes(content), *rest)
    return _bytes(value)


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return (value if isinstance(value, str) else json.dumps(value)).encode("utf-8", "surrogatepass")


def _operations(portal: Portal) -> list[Any]:
    from gateway.channels.lgwan_asp.app import create_app

    schema = schemathesis.openapi.from_dict(create_app(portal.gw).openapi())
    return [result.ok() for result in schema.get_all_operations()]


@pytest.fixture(scope="module")
def callers(portal: Portal) -> dict[str, tuple[httpx.Client, dict[str, str]]]:
    out = {}
    for login in ("s.staff", "k.tanaka"):
        c = portal.client(login)
        token = c.post("/api/v1/tokens", json={"login": login, "password": PASSWORD}).json()["token"]
        out[login] = (c, {"authorization": f"Bearer {token}"})
    return out


@pytest.fixture(scope="module", autouse=True)
def report() -> Any:
    yield
    out = REPO / "test-output" / "fuzz"
    out.mkdir(parents=True, exist_ok=True)
    (out / "api.json").write_text(json.dumps(dict(COUNTS), indent=2), encoding="utf-8")


def test_the_fuzzer_sees_every_api_route(portal: Portal) -> None:
    assert len(_operations(portal)) >= 19


def test_the_fuzzer_sends_idempotency_keys_to_the_send(portal: Portal) -> None:
    """The header the API reads is in its document, so the generated sends carry it too (and
    retry under the same key) instead of the fuzzer never trying it."""
    from gateway.channels.lgwan_asp.app import create_app
    from gateway.channels.lgwan_asp.sending import IDEMPOTENCY_KEY

    send = create_app(portal.gw).openapi()["paths"]["/api/v1/transfers"]["post"]
    header = [p for p in send["parameters"] if p["in"] == "header" and p["name"] == "Idempotency-Key"]
    assert header and header[0]["schema"]["pattern"] == f"^{IDEMPOTENCY_KEY.pattern}$"
    operation = next(o for o in _operations(portal) if o.path == "/api/v1/transfers" and o.method.upper() == "POST")
    assert "Idempotency-Key" in [p.name for p in operation.headers]


@pytest.mark.parametrize("login", ["s.staff", "k.tanaka"])
def test_no_generated_request_breaks_the_api_or_changes_state_when_refused(
        portal: Portal, callers: dict, kurume_transfer: dict, login: str) -> None:
    client, auth = callers[login]
    for operation in _operations(portal):
        if operation.path == "/api/v1/tokens" or operation.path.endswith("/logout"):
            continue  # would end or churn the caller's own session; the login refusal is tested elsewhere

        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            kwargs = case.as_transport_kwargs(base_url=portal.url, headers=dict(auth))
            kwargs.pop("cookies", None)
            if "files" in kwargs:  # requests' shapes, which httpx reads more strictly: bytes for every part
                kwargs["files"] = [(name, _part(value)) for name, value in _items(kwargs["files"])]
                if isinstance(kwargs.get("data"), dict):
                    kwargs["data"] = {k: v if isinstance(v, (str, bytes)) else json.dumps(v)
                                      for k, v in kwargs["data"].items()}
            before = _state(portal)
            try:
                r = client.request(**{k: v for k, v in kwargs.items() if k in (
                    "method", "url", "headers", "params", "json", "data", "files", "content")})
            except httpx.HTTPError:
                COUNTS["transport-refused"] += 1
                return
            COUNTS["tried"] += 1
            COUNTS[f"{r.status_code // 100}xx"] += 1
            assert r.status_code < 500, (case.method, case.formatted_path, r.status_code, r.text[:300])
            assert "Traceback" not in r.text
            if 400 <= r.status_code < 500:
                assert _state(portal) == before, (case.method, case.formatted_path, r.status_code)

        run()
