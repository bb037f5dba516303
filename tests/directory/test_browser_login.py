"""A member of the city's staff logs in to the portal from the directory in headless Chromium, with
the terminal certificate in the browser (issue 22, item 4); the refusals the page shows are the
bilingual ones of the one refusal path. Screenshots go to test-output/portal/directory-*.png."""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from tests.directory.conftest import directory_as, entries_after, last_seq
from tests.directory.slapd import free_port, password_of
from tests.portal.conftest import SHOTS, Portal

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="needs /usr/bin/chromium")

ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--disable-quic"]


@pytest.fixture
def page(portal: Portal):
    sync_api = pytest.importorskip("playwright.sync_api")
    t = portal.terminals["s.yamada"]
    data_dir = tempfile.mkdtemp(prefix="chromium-directory-")
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            data_dir, executable_path="/usr/bin/chromium", headless=True, args=ARGS, ignore_https_errors=True,
            locale="ja-JP", client_certificates=[{"origin": portal.url, "certPath": str(t.cert), "keyPath": str(t.key)}])
        try:
            yield ctx.new_page()
        finally:
            ctx.close()
            shutil.rmtree(data_dir, ignore_errors=True)


def log_in(page, portal: Portal, password: str) -> None:
    page.goto(f"{portal.url}/login")
    page.get_by_label("ID").fill("s.yamada")
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="ログイン").click()


def test_a_staff_member_logs_in_from_the_directory_in_chromium(page, portal: Portal) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    log_in(page, portal, "wrong-password-1")
    alert = page.locator("[role=alert]")
    alert.wait_for()
    assert "ID とパスワード" in alert.inner_text() and "check your ID and password" in alert.inner_text()

    with directory_as(portal, url=f"ldap://127.0.0.1:{free_port()}"):
        log_in(page, portal, password_of("s.yamada"))
        page.locator("[role=alert]").wait_for()
        text = page.locator("[role=alert]").inner_text()
    assert "ディレクトリ" in text and "directory cannot be reached" in text
    page.screenshot(path=str(SHOTS / "directory-unavailable.png"), full_page=True)

    before = last_seq(portal)
    log_in(page, portal, password_of("s.yamada"))
    page.wait_for_url(f"{portal.url}/staff")
    page.screenshot(path=str(SHOTS / "directory-staff-home.png"), full_page=True)
    assert page.locator("[role=alert]:visible").count() == 0
    assert "s.yamada / kurume" in page.locator("header").inner_text() and page.locator("h1").inner_text() == "送信専用画面"
    logins = [e for e in entries_after(portal, before) if e["action"] == "auth.login"]
    assert [(e["outcome"], e["actor"]["user"], e["actor"]["role"]) for e in logins] == [("ok", "s.yamada", "staff")]
