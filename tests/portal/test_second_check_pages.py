"""The second person's check on the staff pages, in headless Chromium (issue 20, item 1): a send
the sender holds waits; the sender cannot approve it; the approver the approval names sees what
identifies it (never a record), approves it, and the password notice is shown once; the
contractor sees it only then."""
from __future__ import annotations

import os
import re
import shutil

import pytest

from gateway.channels.lgwan_asp import terminals
from gateway.channels.lgwan_asp.auth import HASHER, issue_initial_password
from gateway.ledger.log import Actor
from gateway.store import models as m
from tests.portal.conftest import PASSWORD, Terminal, bearer, cli, log_entries
from tests.portal.test_browser import login, open_context, settle

pytestmark = pytest.mark.skipif(not shutil.os.path.exists("/usr/bin/chromium"), reason="needs /usr/bin/chromium")

CHECKER = "kurume.kakari"  # the approver the shipped Kurume approval names


@pytest.fixture(scope="module")
def checker(portal, tmp_path_factory):
    # A module's fixture runs before the per-test one that puts the commands on the portal's clock.
    os.environ["GATEWAY_FAKE_NOW"] = portal.clock.now().isoformat()
    cli("user", "add", CHECKER, "--org", "kurume", "--role", "staff", "--name", "試験 係長")
    admin = Actor(user="cli:test", role="admin")
    issue_initial_password(portal.gw, CHECKER, actor=admin)
    with portal.gw.unit() as s:
        u = s.query(m.User).filter_by(login=CHECKER).one()
        u.password_hash, u.must_change_password = HASHER.hash(PASSWORD), False
    t = terminals.issue(portal.gw, CHECKER, tmp_path_factory.mktemp("checker-certs"), actor=admin)
    portal.terminals[CHECKER] = Terminal(CHECKER, t.cert, t.key, t.serial, t.fingerprint)
    return CHECKER


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        yield p, None


def contractor_sees(portal, transfer: str) -> bool:
    with bearer(portal, "k.tanaka") as (c, headers):
        r = c.get("/api/v1/transfers", headers=headers)
        assert r.status_code == 200, r.text
        return transfer in r.text


def test_a_held_send_is_checked_on_the_staff_pages(browser, portal, checker, recipients_file):
    opened = []
    try:
        staff_ctx, d1 = open_context(browser, portal, "s.staff")
        opened.append((staff_ctx, d1))
        staff = staff_ctx.new_page()
        login(staff, portal, "s.staff", PASSWORD)
        staff.wait_for_url("**/staff")
        staff.get_by_label("承認（審議会の承認）").select_option("kurume-2020-teigaku")
        staff.get_by_label("提供先").select_option("chikugo-print")
        staff.get_by_label("受け渡し方法").select_option("lgwan-asp")
        staff.get_by_label("パスワード通知の方法").select_option("registered-mail")
        staff.get_by_label("宛名ファイル（CSV）").set_input_files(str(recipients_file))
        staff.get_by_label("二重確認（上長承認）を求める").check()
        staff.get_by_role("button", name="確認して送信").click()
        settle(staff, "#confirm", timeout=60_000)  # 確認: the page says the send waits for a check
        assert staff.locator("#confirm-second-check").inner_text().startswith("必要")
        staff.get_by_role("button", name="送信する", exact=True).click()
        settle(staff, "#transfer-id", timeout=60_000)
        transfer = staff.locator("#transfer-id").inner_text().strip()
        sha256 = staff.locator("#sha256").inner_text().strip()
        assert "二重確認待ち" in staff.content() and staff.locator("#notice-link").count() == 0
        assert not contractor_sees(portal, transfer)

        # The sender may see it but not approve it: refused, logged as second-check-missing.
        staff.goto(f"{portal.url}/staff/checks/{transfer}")
        staff.get_by_label("確認の所見").fill("自分で確認")
        staff.locator("#approve").click()
        staff.wait_for_url(f"**/staff/checks/{transfer}/approve")
        assert staff.locator("[role=alert]").count() == 1
        refused = log_entries(portal, action="second-check.approve", outcome="refused")
        assert refused and refused[-1]["kinds"] == ["second-check-missing"]

        checker_ctx, d2 = open_context(browser, portal, checker)
        opened.append((checker_ctx, d2))
        page = checker_ctx.new_page()
        login(page, portal, checker, PASSWORD)
        page.wait_for_url("**/staff")
        page.locator("#checks-link").click()
        page.get_by_role("link", name=transfer).click()
        page.wait_for_url(f"**/staff/checks/{transfer}")
        assert page.locator("#sha256").inner_text().strip() == sha256
        assert page.locator("#records").inner_text().strip() == "3000"
        assert page.locator("#recipient").inner_text().startswith("筑後セキュアプリント")
        assert page.locator("#channel").inner_text().startswith("lgwan-asp")
        assert "requested-by-sender" in page.locator("#reasons").inner_text()
        page.get_by_label("確認の所見").fill("宛先・件数・項目を確認した")
        page.locator("#approve").click()
        settle(page, "#transfer-id")
        with checker_ctx.expect_page() as notice_info:
            page.locator("#notice-link").click()
        notice = notice_info.value
        notice.wait_for_load_state()
        assert re.search(r"<td class=\"passphrase\">([2-9A-Z-]+)</td>", notice.content())
        assert sha256 in notice.content()
        assert contractor_sees(portal, transfer)
        approved = log_entries(portal, action="second-check.approve", outcome="ok")
        assert [e["actor"]["user"] for e in approved] == [checker]
    finally:
        for ctx, data_dir in opened:
            ctx.close()
            shutil.rmtree(data_dir, ignore_errors=True)
