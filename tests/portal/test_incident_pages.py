"""Recall and incidents on the portal, in headless Chromium (issue 20, items 3 and 4): staff recall
a transfer the contractor already downloaded; the handler answers the incident the recall opened
and later reports the city's instruction carried out; staff instruct, decide on 公表 and close;
the security officer records the LINE WORKS hand-over and links it to an approval."""
from __future__ import annotations

import shutil

import pytest

from tests.portal.conftest import PASSWORD, bearer, log_entries, send_via_api
from tests.portal.test_browser import login, open_context, settle

pytestmark = pytest.mark.skipif(not shutil.os.path.exists("/usr/bin/chromium"), reason="needs /usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        yield p, None


def page_for(browser, portal, user: str, opened: list):
    ctx, data_dir = open_context(browser, portal, user)
    opened.append((ctx, data_dir))
    page = ctx.new_page()
    login(page, portal, user, PASSWORD)
    page.wait_for_load_state()
    return page


def test_recall_after_download_and_the_incident_through_the_pages(browser, portal, recipients_file):
    t = send_via_api(portal, recipients_file)["transfer"]
    with bearer(portal, "k.tanaka") as (c, h):
        assert c.get(f"/api/v1/transfers/{t}/package", headers=h).status_code == 200
    opened: list = []
    try:
        staff = page_for(browser, portal, "s.staff", opened)
        staff.goto(f"{portal.url}/staff/transfers/{t}")
        staff.get_by_label("回収の理由").fill("抽出条件の誤り")
        staff.locator("#recall").click()
        settle(staff, "#recalled")
        incident = staff.locator("#recalled a").inner_text().strip()
        assert incident.startswith("I")
        with bearer(portal, "k.tanaka") as (c, h):  # erased at the gateway: gone for the contractor
            assert c.get(f"/api/v1/transfers/{t}/package", headers=h).status_code == 410

        handler = page_for(browser, portal, "k.tanaka", opened)
        handler.goto(f"{portal.url}/incidents")
        handler.get_by_label("受け渡し").select_option(t)
        handler.get_by_label("市から報告を求められた事故（任意）").select_option(incident)
        handler.get_by_label("内容").fill("対象外の住民を含むデータの受領")
        handler.get_by_label("件数").fill("3000")
        handler.get_by_label("発生場所").fill("受託者 データ処理室")
        handler.get_by_label("発生状況").fill("回収連絡を受け作業を停止した")
        handler.get_by_label("発生日時").fill("2020-06-01T10:00")
        handler.get_by_role("button", name="報告する").click()
        settle(handler, "#incident-id")
        assert handler.locator("#incident-id").inner_text().strip() == incident

        staff.goto(f"{portal.url}/incidents/{incident}")
        staff.get_by_label("指示", exact=True).fill("全ての複製を消去し消去証明書を提出すること")
        staff.get_by_label("期限").fill("2030-01-31T17:00")
        staff.get_by_role("button", name="指示する").click()
        settle(staff, "#done")
        assert "全ての複製を消去" in staff.locator("#instruction").inner_text()

        handler.goto(f"{portal.url}/incidents/{incident}")
        handler.get_by_label("実施内容").fill("作業サーバーの複製を暗号消去した")
        handler.get_by_role("button", name="実施を報告").click()
        settle(handler, "#done")

        staff.goto(f"{portal.url}/incidents/{incident}")
        staff.get_by_label("判断").select_option("withhold")
        staff.get_by_label("理由").fill("外部への流出なし")
        staff.get_by_role("button", name="判断を記録").click()
        settle(staff, "#done")
        staff.get_by_label("結果").fill("抽出手順に二重確認を追加")
        staff.get_by_role("button", name="終結する").click()
        settle(staff, "#done")
        assert staff.locator("#publication").inner_text() == "withhold"
        closed = log_entries(portal, action="incident.close", outcome="ok")
        assert closed[-1]["object"]["transfer"] == t
    finally:
        for ctx, data_dir in opened:
            ctx.close()
            shutil.rmtree(data_dir, ignore_errors=True)


def test_the_officer_records_an_outside_hand_over_and_links_it(browser, portal):
    opened: list = []
    try:
        officer = page_for(browser, portal, "sec.officer", opened)
        officer.goto(f"{portal.url}/officer/external")
        officer.get_by_label("受け取った先").fill("line-works")
        officer.get_by_label("経緯", exact=True).first.fill("LINE WORKS で住民データを承認なく共有していた")
        officer.get_by_label("件数").fill("40")
        officer.get_by_label("受渡しの日時").fill("2020-05-20T10:00")
        officer.get_by_role("button", name="記録する").click()
        settle(officer, "#external-id")
        x = officer.locator("#external-id").inner_text().strip()
        assert x.startswith("X")
        officer.get_by_label("承認 id").fill("kurume-2020-teigaku")
        officer.locator("#note").fill("事後承認")
        officer.get_by_role("button", name="結び付ける").click()
        settle(officer, "#linked")
        linked = log_entries(portal, action="transfer.regularise", outcome="ok")
        assert [e["object"]["transfer"] for e in linked] == [x]
    finally:
        for ctx, data_dir in opened:
            ctx.close()
            shutil.rmtree(data_dir, ignore_errors=True)
