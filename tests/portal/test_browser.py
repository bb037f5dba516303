"""The whole hand-over through the portal in headless Chromium, with client certificates in the
browser context: staff change the initial password and send; the notice is printed once; a
contractor downloads, decrypts with the real `age -d` and confirms receipt; a security officer
finds both in the log. Every page is saved as a screenshot under test-output/portal/."""
from __future__ import annotations

import csv
import hashlib
import io
import re
import shutil
import tempfile

import pexpect
import pytest

from gateway.channels.lgwan_asp.auth import issue_initial_password
from gateway.ledger.log import Actor
from tests.portal.conftest import PASSWORD, SHOTS

pytestmark = [pytest.mark.interop, pytest.mark.skipif(shutil.which("age") is None or not shutil.os.path.exists("/usr/bin/chromium"),
                                                      reason="needs /usr/bin/chromium and age")]

ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    with sync_api.sync_playwright() as p:
        # A persistent context is the only way to give Chromium a user-data-dir of our own; one per
        # user is opened below from a fresh directory, so here we only keep the launcher.
        yield p, profile
    shutil.rmtree(profile, ignore_errors=True)


def open_context(browser, portal, login: str):
    p, _ = browser
    t = portal.terminals[login]
    data_dir = tempfile.mkdtemp(prefix=f"chromium-{login}-")
    ctx = p.chromium.launch_persistent_context(
        data_dir, executable_path="/usr/bin/chromium", headless=True, args=ARGS, ignore_https_errors=True,
        accept_downloads=True, locale="ja-JP",
        client_certificates=[{"origin": portal.url, "certPath": str(t.cert), "keyPath": str(t.key)}])
    return ctx, data_dir


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def login(page, portal, user: str, password: str) -> None:
    page.goto(f"{portal.url}/login")
    page.get_by_label("ID").fill(user)
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="ログイン").click()


def test_staff_send_contractor_receive_officer_review(browser, portal, recipients_file, tmp_path):
    initial = issue_initial_password(portal.gw, "s.staff", actor=Actor(user="cli:test", role="admin"))

    # -- staff: first login forces the password change, then the send-only screen -----------------
    ctx, d1 = open_context(browser, portal, "s.staff")
    try:
        page = ctx.new_page()
        page.goto(f"{portal.url}/login")
        shot(page, "01-login")
        login(page, portal, "s.staff", initial)
        page.wait_for_url("**/password")
        shot(page, "02-password-change")
        page.get_by_label("現在のパスワード").fill(initial)
        page.get_by_label("新しいパスワード（12 文字以上）").fill(PASSWORD)
        page.get_by_label("新しいパスワード（確認）").fill(PASSWORD)
        page.get_by_role("button", name="変更する").click()
        page.wait_for_url("**/staff")
        page.get_by_label("承認（審議会の承認）").select_option("kurume-2020-teigaku")
        page.get_by_label("提供先").select_option("chikugo-print")
        page.get_by_label("受け渡し方法").select_option("lgwan-asp")
        page.get_by_label("パスワード通知の方法").select_option("registered-mail")
        page.get_by_label("宛名ファイル（CSV）").set_input_files(str(recipients_file))
        shot(page, "03-staff-send")
        page.get_by_role("button", name="確認して送信").click()
        page.wait_for_selector("#transfer-id", timeout=120_000)
        shot(page, "04-staff-result")
        transfer = page.locator("#transfer-id").inner_text().strip()
        records = int(page.locator("#records").inner_text())
        sha256 = page.locator("#sha256").inner_text().strip()
        assert records == 3000
        with ctx.expect_page() as notice_info:
            page.locator("#notice-link").click()
        notice = notice_info.value
        notice.wait_for_load_state()
        shot(notice, "05-password-notice")
        passphrase = "-".join(re.findall(r"<span>([2-9A-Z]{5})</span>", notice.content()))
        assert passphrase and sha256 in notice.content()
        # Once: the same link a second time shows no notice.
        again = ctx.new_page()
        again.goto(notice.url)
        assert "一度だけ" in again.content() and passphrase.split("-")[0] not in again.content()
        page.goto(f"{portal.url}/staff/transfers/{transfer}")
        page.get_by_label("発送方法").select_option("registered-mail")
        page.get_by_label("簡易書留の番号").fill("1234-5678-9012")
        page.get_by_role("button", name="発送を記録").click()
        page.wait_for_selector("#dispatch-id")
        shot(page, "06-staff-dispatch")
        # Staff have no download: the contractor's route refuses them.
        r = page.goto(f"{portal.url}/contractor/transfers/{transfer}/package")
        assert r is not None and r.status == 403
    finally:
        ctx.close()
        shutil.rmtree(d1, ignore_errors=True)

    # -- contractor: download, decrypt with age -d, confirm receipt --------------------------------
    ctx, d2 = open_context(browser, portal, "k.tanaka")
    try:
        page = ctx.new_page()
        login(page, portal, "k.tanaka", PASSWORD)
        page.wait_for_url("**/contractor")
        shot(page, "07-contractor-list")
        page.get_by_role("link", name=transfer).click()
        page.wait_for_url(f"**/contractor/transfers/{transfer}")
        shot(page, "08-contractor-transfer")
        with page.expect_download() as dl:
            page.locator("#download").click()
        package = tmp_path / "package.age"
        dl.value.save_as(str(package))
        assert dl.value.suggested_filename == f"{transfer}.age"
        plain = tmp_path / "recipients.csv"
        child = pexpect.spawn("age", ["-d", "-o", str(plain), str(package)], timeout=120)
        child.expect_exact("Enter passphrase:")
        child.sendline(passphrase)
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
        data = plain.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        text = data.decode("utf-8-sig") if data[:3] == b"\xef\xbb\xbf" else data.decode("cp932", "replace")
        count = sum(1 for _ in csv.reader(io.StringIO(text, newline=""))) - 1
        assert (count, digest) == (records, sha256)
        page.get_by_label("復号して数えた件数").fill(str(count))
        page.get_by_label("復号したファイルの SHA-256（gateway package decrypt が表示）").fill(digest)
        page.get_by_role("button", name="受領を確認").click()
        page.wait_for_selector("#ok-message")
        assert page.locator("#state").inner_text() == "received"
        shot(page, "09-contractor-receipt")
    finally:
        ctx.close()
        shutil.rmtree(d2, ignore_errors=True)

    # -- security officer: both sides in the log ---------------------------------------------------
    ctx, d3 = open_context(browser, portal, "sec.officer")
    try:
        page = ctx.new_page()
        login(page, portal, "sec.officer", PASSWORD)
        page.wait_for_url("**/officer")
        page.get_by_label("承認").fill("kurume-2020-teigaku")
        page.get_by_role("button", name="絞り込む").click()
        page.wait_for_url("**/officer?**")
        shot(page, "10-officer-log")
        log = page.locator("#log").inner_text()
        for expected in ("transfer.send", "notice.dispatch", "transfer.download", "transfer.receipt", "s.staff",
                         "k.tanaka", transfer):
            assert expected in log
        page.goto(f"{portal.url}/officer/chain")
        assert page.locator("#chain-ok").count() == 1
        shot(page, "11-officer-chain")
        page.goto(f"{portal.url}/officer/approvals")
        assert transfer in page.content()
        shot(page, "12-officer-approvals")
        page.goto(f"{portal.url}/officer/report?approval=kurume-2020-teigaku")
        assert "True" in page.locator("#verified").inner_text()
        shot(page, "13-officer-report")
        page.goto(f"{portal.url}/officer?lang=en")
        assert "Access log" in page.content()
        shot(page, "14-officer-log-en")
    finally:
        ctx.close()
        shutil.rmtree(d3, ignore_errors=True)
