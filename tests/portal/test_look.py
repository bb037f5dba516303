"""The look fit for the service (issue 23, item 5): one stylesheet of our own under the strict CSP,
a skip link and aria-current on every page, and HEAD answered wherever GET is, except where a GET
hands something out once or is itself a logged act."""
from __future__ import annotations

from sqlalchemy import func, select

from gateway.channels.lgwan_asp.headers import CSP
from gateway.store import models as m
from tests.portal.conftest import Portal


def test_head_is_answered_where_get_is(portal: Portal, kurume_transfer: dict) -> None:
    c = portal.login("sec.officer")
    got, head = c.get("/officer"), c.head("/officer")
    assert got.status_code == head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-security-policy"] == CSP
    css = c.head("/static/portal.css")
    assert css.status_code == 200 and css.content == b"" and css.headers["content-type"].startswith("text/css")
    assert c.head("/officer/log.csv").status_code == 405  # an export is a logged act
    handler = portal.login("k.tanaka")
    with portal.gw.read() as s:
        before = s.scalar(select(func.count()).select_from(m.LogEntry).where(m.LogEntry.action == "transfer.download"))
    r = handler.head(f"/contractor/transfers/{kurume_transfer['transfer']}/package")
    assert r.status_code == 405 and r.headers["allow"] == "GET"
    with portal.gw.read() as s:
        after = s.scalar(select(func.count()).select_from(m.LogEntry).where(m.LogEntry.action == "transfer.download"))
    assert after == before


def test_every_page_has_a_skip_link_the_current_page_marked_and_our_stylesheet(portal: Portal) -> None:
    for login, path in (("s.staff", "/staff"), ("k.tanaka", "/contractor"), ("sec.officer", "/officer/chain")):
        page = portal.login(login).get(path).text
        assert '<a class="skip-link" href="#main">' in page and '<main id="main"' in page
        assert f'href="{path}" aria-current="page"' in page
        assert '<link rel="stylesheet" href="/static/portal.css">' in page and "<style" not in page
    css = portal.login("s.staff").get("/static/portal.css")
    assert css.status_code == 200 and "Noto Sans JP" in css.text and "focus-visible" in css.text
