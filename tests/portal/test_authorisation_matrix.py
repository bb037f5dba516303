"""The authorisation matrix (issue 19, the standing battery): every read route of the portal, pages
and API, for every role, against its own city's objects, the other city's and ones that do not
exist. Each cell's expected answer is written once, below; every cell is run over mutual TLS.

Roles: staff and officer of Kurume and of Shinjuku, Kurume's contractor's designated handler
(k.tanaka), an employee of that contractor on no handler list (x.outsider), and Shinjuku's
contractor's handler (t.kobayashi). Changes (POST) are covered by the walk of every refusal and
the API fuzzer; here, every POST route is also tried across roles and cities, and none of those
crossings may succeed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.store import models as m
from tests.conftest import run_gateway
from tests.portal.conftest import PASSWORD, Portal, send_via_api

ROLES = ("s.staff", "sj.staff", "k.tanaka", "x.outsider", "t.kobayashi", "sec.officer", "sj.officer")


def row(*statuses: int) -> dict[str, int]:
    assert len(statuses) == len(ROLES)
    return dict(zip(ROLES, statuses, strict=True))


ALL_403_BUT = {"staff": row(200, 200, 403, 403, 403, 403, 403), "contractor": row(403, 403, 200, 200, 200, 403, 403),
               "officer": row(403, 403, 403, 403, 403, 200, 200)}

#                                          s.staff sj.staff tanaka outsider kobayashi sec.off sj.off
API = {
    "/api/v1/me":                               row(200, 200, 200, 200, 200, 200, 200),
    "/api/v1/transfers":                        row(200, 200, 200, 200, 200, 403, 403),
    "/api/v1/transfers/{kurume}":               row(200, 404, 200, 404, 404, 404, 404),
    "/api/v1/transfers/{shinjuku}":             row(404, 200, 404, 404, 200, 404, 404),
    "/api/v1/transfers/{missing}":              row(404, 404, 404, 404, 404, 404, 404),
    "/api/v1/transfers/{kurume}/package":       row(403, 403, 200, 403, 404, 403, 403),
    "/api/v1/transfers/{shinjuku}/package":     row(403, 403, 404, 404, 200, 403, 403),
    "/api/v1/transfers/{missing}/package":      row(403, 403, 404, 404, 404, 403, 403),
    "/api/v1/transfers/{kurume}/deliverables":  row(403, 403, 200, 404, 404, 403, 403),
    "/api/v1/transfers/{shinjuku}/deliverables": row(403, 403, 404, 404, 200, 403, 403),
    "/api/v1/deletions":                        ALL_403_BUT["staff"],
    "/api/v1/log":                              ALL_403_BUT["officer"],
    "/api/v1/chain":                            ALL_403_BUT["officer"],
    "/api/v1/approvals":                        ALL_403_BUT["officer"],
}
PAGES = {
    "/staff":                                   ALL_403_BUT["staff"],
    "/staff/deletions":                         ALL_403_BUT["staff"],
    "/staff/transfers/{kurume}":                row(200, 404, 403, 403, 403, 403, 403),
    "/staff/transfers/{shinjuku}":              row(404, 200, 403, 403, 403, 403, 403),
    "/contractor":                              ALL_403_BUT["contractor"],
    "/contractor/transfers/{kurume}":           row(403, 403, 200, 404, 404, 403, 403),
    "/contractor/transfers/{shinjuku}":         row(403, 403, 404, 404, 200, 403, 403),
    "/contractor/transfers/{missing}":          row(403, 403, 404, 404, 404, 403, 403),
    "/officer":                                 ALL_403_BUT["officer"],
    "/officer/chain":                           ALL_403_BUT["officer"],
    "/officer/approvals":                       ALL_403_BUT["officer"],
}
POSTS = [  # (path, JSON body): a body each route would accept from the right person
    ("/api/v1/transfers/{id}/dispatch", {"method": "registered-mail"}),
    ("/api/v1/transfers/{id}/receipt", {"records": 1, "sha256": "0" * 64}),
    ("/api/v1/transfers/{id}/deletions", {"items": "i", "media": "m", "quantity": 1, "method": "x",
                                          "planned_date": "2020-06-10"}),
]


@pytest.fixture(scope="module")
def objects(portal: Portal, recipients_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    # Packages of the module's own: the matrix's one allowed download of each is its one complete
    # download (a package allows one), whichever other test of the package downloaded theirs.
    kurume = send_via_api(portal, recipients_file)
    source = tmp_path_factory.mktemp("matrix") / "shinjuku.csv"
    run_gateway("generate", "recipients", "--count", "30", "--schema", "shinjuku-2020", "--seed", "11",
                "-o", str(source))
    shinjuku = send_via_api(portal, source, login="sj.staff", approval="shinjuku-2020-teigaku",
                            recipient="musashino-forms")
    return {"kurume": kurume["transfer"], "shinjuku": shinjuku["transfer"], "missing": "T20200601-0000000000"}


@pytest.fixture(scope="module")
def clients(portal: Portal) -> dict[str, tuple[Any, dict[str, str]]]:
    out = {}
    for login in ROLES:
        c = portal.login(login)  # a page session on the person's own terminal
        token = c.post("/api/v1/tokens", json={"login": login, "password": PASSWORD}).json()["token"]
        out[login] = (c, {"authorization": f"Bearer {token}"})
    return out


def cells(table: dict[str, dict[str, int]]) -> list[tuple[str, str, int]]:
    return [(path, login, status) for path, by_role in table.items() for login, status in by_role.items()]


def test_every_read_route_is_in_the_matrix(portal: Portal) -> None:
    from fastapi.routing import APIRoute

    from gateway.channels.lgwan_asp.app import create_app

    reads = {r.path for r in create_app(portal.gw).routes if isinstance(r, APIRoute) and "GET" in r.methods}
    written = {p.replace("{kurume}", "{transfer_id}").replace("{shinjuku}", "{transfer_id}")
               .replace("{missing}", "{transfer_id}") for p in (*API, *PAGES)}
    not_in_matrix = {"/login", "/password", "/", "/staff/", "/static/portal.css", "/static/upload.js",
                     "/api/v1/approvals/{approval_id}/report",  # runs the auditor: tests/portal/test_security.py
                     "/officer/report", "/staff/notices/{key}", "/contractor/transfers/{transfer_id}/package"}
    assert reads - not_in_matrix <= written, sorted(reads - not_in_matrix - written)


@pytest.mark.parametrize("path,login,status", cells(API), ids=lambda v: str(v))
def test_api_cell(clients: dict, objects: dict, path: str, login: str, status: int) -> None:
    c, h = clients[login]
    r = c.get(path.format(**objects), headers=h)
    assert r.status_code == status, (login, path, r.status_code, r.text[:200])
    if r.status_code == 200 and path == "/api/v1/transfers":
        visible = {t["id"] for t in r.json()}
        assert visible <= {objects["kurume"], objects["shinjuku"]} | visible  # listing shape
        assert (objects["kurume"] in visible) == (login in ("s.staff", "k.tanaka"))
        assert (objects["shinjuku"] in visible) == (login in ("sj.staff", "t.kobayashi"))


@pytest.mark.parametrize("path,login,status", cells(PAGES), ids=lambda v: str(v))
def test_page_cell(clients: dict, objects: dict, path: str, login: str, status: int) -> None:
    c, _ = clients[login]
    r = c.get(path.format(**objects))
    assert r.status_code == status, (login, path, r.status_code)
    other = objects["shinjuku"] if login in ("s.staff", "k.tanaka", "x.outsider", "sec.officer") else objects["kurume"]
    # The id a person typed comes back (the page's own link), and the officer's log shows what the
    # city's own people typed, refusals included: neither tells them anything of the other city.
    if other not in path.format(**objects) and not path.startswith("/officer"):
        assert other not in r.text  # no other city's transfer id on any page


@pytest.mark.parametrize("template,body", POSTS, ids=[p for p, _ in POSTS])
def test_no_change_crosses_a_role_or_a_city(portal: Portal, clients: dict, objects: dict, template: str,
                                             body: dict) -> None:
    """The right person of the other city, the wrong role of the same city, and anyone on a missing
    object: each refused, nothing changed."""
    def state() -> tuple:
        with portal.gw.read() as s:
            return (tuple(s.execute(select(m.Transfer.id, m.Transfer.state).order_by(m.Transfer.id)).all()),
                    s.scalar(select(func.count()).select_from(m.ContractorDeletion)))

    for login in ROLES:
        for target in ("shinjuku", "kurume", "missing"):
            own = (target == "kurume" and login in ("s.staff", "k.tanaka")) or \
                  (target == "shinjuku" and login in ("sj.staff", "t.kobayashi"))
            if own:
                continue
            c, h = clients[login]
            before = state()
            r = c.post(template.format(id=objects[target]), headers=h, json=body)
            assert 400 <= r.status_code < 500, (login, target, template, r.status_code)
            assert state() == before, (login, target, template)
