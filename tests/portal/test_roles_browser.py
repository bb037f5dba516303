"""Each role's main path through the new pages in headless Chromium (issue 23, item 6): the officer
reads the whole log (administration included), filters and pages it, opens an entry's evidence and
the auditor's report; the administrator manages an account over its life and amends a handler
list; every page is kept as a screenshot and passes the accessibility check (axe-core: no serious
or critical violation). With PORTAL_FULL_SIZE=1 the officer walks the log after the full-size
hand-over of tests/portal/test_browser.py (`make browser-full`)."""
from __future__ import annotations

import shutil
import time

import pytest

from tests.portal.browsing import NEEDS, login, open_context, visit
from tests.portal.conftest import PASSWORD, SHOTS

pytestmark = [pytest.mark.interop, NEEDS]


@pytest.fixture
def person(browser, admin):  # type: ignore[no-untyped-def]
    opened: list = []

    def open_as(login_name: str):  # type: ignore[no-untyped-def]
        ctx, data_dir = open_context(browser, admin, login_name)
        opened.append((ctx, data_dir))
        page = ctx.new_page()
        login(page, admin, login_name, PASSWORD)
        return page

    yield open_as
    for ctx, data_dir in opened:
        ctx.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_the_administrator_manages_accounts_and_handler_lists(person, admin) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    page = person("admin")
    page.wait_for_url("**/admin")
    assert page.locator('nav.menu a[aria-current="page"]').inner_text() == "利用者"
    visit(page, "30-admin-users")
    page.get_by_label("ID").fill("kr.browser")
    page.get_by_label("氏名").fill("久留米 画面")
    page.get_by_label("組織").select_option("kurume")
    page.get_by_label("役割").select_option("staff")
    page.get_by_role("button", name="登録する").click()
    page.wait_for_url("**/admin/users/kr.browser?done=*")
    visit(page, "31-admin-user-added")
    page.get_by_role("button", name="初期パスワードを発行する").click()
    page.wait_for_selector("#initial-password")
    visit(page, "32-admin-initial-password")
    page.get_by_label("パスワードの交付方法").select_option("registered-mail")
    page.get_by_label("簡易書留の番号、または手渡しした人").fill("簡易書留 3333-4444")
    page.get_by_role("button", name="交付を記録する").click()
    page.wait_for_url("**done=delivered")
    page.get_by_role("button", name="端末証明書を発行する").click()
    page.wait_for_selector("#p12-password")
    visit(page, "33-admin-terminal-issued")
    page.get_by_label("理由（退職、異動、端末の紛失など）").fill("異動")
    page.get_by_role("button", name="無効にする").click()
    page.wait_for_url("**done=disable")
    assert page.locator("#user-state").get_attribute("data-state") == "disabled"
    visit(page, "34-admin-user-disabled")
    page.goto(f"{admin.url}/admin/approvals")
    visit(page, "35-admin-approvals")
    page.get_by_role("link", name="kurume-2020-teigaku").click()
    page.wait_for_url("**/admin/approvals/kurume-2020-teigaku")
    visit(page, "36-admin-approval")
    page.get_by_label("組織").select_option("chikugo-print")
    page.get_by_label("追加する取扱者（1 行に ID:氏名:役割）").fill("k.browser:画面 太郎:handler")
    page.get_by_label("市の決定（決裁番号など）").fill("久市民第3001号")
    page.get_by_label("理由").fill("増員")
    page.get_by_role("button", name="名簿を変更する").click()
    page.wait_for_url("**done=approval.amend-handlers")
    assert page.locator('#handlers-chikugo-print li[data-login="k.browser"]').count() == 1
    visit(page, "37-admin-handlers-amended")
    page.get_by_label("組織").select_option("chikugo-print")
    page.get_by_label("外す取扱者の ID（空白区切り）").fill("k.browser")
    page.get_by_label("市の決定（決裁番号など）").fill("久市民第3002号")
    page.get_by_label("理由").fill("増員の取りやめ")
    page.get_by_role("button", name="名簿を変更する").click()
    page.wait_for_url("**done=approval.amend-handlers")
    page.goto(f"{admin.url}/admin/organisations")
    visit(page, "38-admin-organisations")
    page.goto(f"{admin.url}/admin/users/no.such")
    visit(page, "39-admin-not-found")
    (SHOTS / "timings-admin.txt").write_text(f"{time.perf_counter() - started:.1f} s\n")


def test_the_officer_sees_administration_and_evidence(person, admin) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    page = person("sec.officer")
    page.wait_for_url("**/officer")
    visit(page, "40-officer-log")
    count = page.locator("#log-count").inner_text()
    page.get_by_label("操作（前方一致）").fill("user.")
    page.get_by_role("button", name="絞り込む").click()
    page.wait_for_url("**/officer?**")
    log = page.locator("#log").inner_text()
    assert "利用者の登録" in log and "user.add" in log
    assert "年" in page.locator("#log tbody tr td:nth-child(2)").first.inner_text()
    visit(page, "41-officer-log-administration")
    page.goto(f"{admin.url}/officer?limit=5")
    if page.locator("#page-older").count():
        page.locator("#page-older").click()
        page.wait_for_url("**page=2**")
        visit(page, "42-officer-log-page-2")
    page.goto(f"{admin.url}/officer?action=transfer.send&outcome=ok")
    first = page.locator("#log tbody tr a").first
    if first.count():
        first.click()
        page.wait_for_url("**/officer/entry/*")
        assert page.locator("#chain-position").count() == 1
        visit(page, "43-officer-entry")
    page.goto(f"{admin.url}/officer/report?approval=kurume-2020-teigaku")
    assert page.locator("#verified").get_attribute("data-verified") == "true"
    assert page.locator("#report-html").count() == 1 and page.locator("#report-bundle").count() == 1
    visit(page, "44-officer-report")
    page.goto(f"{admin.url}/officer?action=user.")
    with page.expect_download() as dl:
        page.locator("#export-csv").click()
    assert dl.value.suggested_filename.startswith("access-log-")
    (SHOTS / "timings-officer.txt").write_text(f"{time.perf_counter() - started:.1f} s; {count}\n")
