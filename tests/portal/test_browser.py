"""The whole hand-over through the portal in headless Chromium, with client certificates in the
browser context (2,000 records; at full size, 305,115 records of Kurume 2020, with
PORTAL_FULL_SIZE=1 or `make browser-full`): staff change the initial password and
send; the notice is printed once; a contractor downloads, decrypts with the real `age -d`, confirms
receipt, returns a deliverable and files a deletion request; staff see the deadline reminders and
approve the request naming a witness; the contractor files the erasure certificate; a security
officer finds all of it in the log. Every page is saved as a screenshot under test-output/screenshots/,
with the time of each phase in timings.json."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import time
from datetime import timedelta

import pexpect
import pytest

from gateway.channels.lgwan_asp.auth import issue_initial_password
from gateway.clock import to_jst
from gateway.ledger.log import Actor
from tests.conftest import run_gateway
from tests.portal.browsing import login, open_context, visit
from tests.portal.conftest import FULL_SIZE, MAX_UPLOAD, PASSWORD, SHOTS

SMALL_SIZE = 2_000

pytestmark = [pytest.mark.interop, pytest.mark.skipif(shutil.which("age") is None or not shutil.os.path.exists("/usr/bin/chromium"),
                                                      reason="needs /usr/bin/chromium and age")]

def settle(page, ok: str, *, timeout: float = 30_000) -> None:
    """Wait for the answer page: its success marker, or an error box whose text fails the test at
    once (a refused upload must not look like a slow one)."""
    page.wait_for_selector(f"{ok}, [role=alert]", timeout=timeout)
    alert = page.locator("[role=alert]:visible")
    if alert.count():
        pytest.fail(f"the portal refused: {alert.first.inner_text()}")


def submit(page, button: str, url_glob: str, ok: str) -> None:
    """Post a server-rendered form and wait for the page it answers with."""
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_url(url_glob)
    settle(page, ok)


class Phases:
    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self.last, 2)
        self.last = now

    def save(self, **extra: object) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        total = round(time.perf_counter() - self.started, 2)
        (SHOTS / "timings.json").write_text(json.dumps({**extra, "phases": self.seconds, "total": total},
                                                       ensure_ascii=False, indent=2) + "\n")


@pytest.fixture(scope="module")
def walk_file(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The file the walk sends: small in `make test`; Kurume's full size (305,115 records) with
    PORTAL_FULL_SIZE=1 (`make browser-full`)."""
    if os.environ.get("PORTAL_FULL_SIZE") == "1":
        return request.getfixturevalue("full_size_file"), FULL_SIZE
    path = tmp_path_factory.mktemp("walk") / "kurume-2020-recipients.csv"
    run_gateway("generate", "recipients", "--count", str(SMALL_SIZE), "--schema", "kurume-2020", "--encoding", "cp932",
                "--seed", "2020", "-o", str(path))
    return path, SMALL_SIZE


def test_hand_over_through_the_portal(browser, portal, walk_file, tmp_path):
    full_size_file, records_in_file = walk_file
    phase = Phases()
    for stale in SHOTS.glob("*.png"):  # only this run's pages in the output
        stale.unlink()
    initial = issue_initial_password(portal.gw, "s.staff", actor=Actor(user="cli:test", role="admin"))
    opened: list = []

    def context(login_name: str):
        ctx, data_dir = open_context(browser, portal, login_name)
        opened.append((ctx, data_dir))
        return ctx

    try:
        # -- staff: first login forces the password change, then the send-only screen ----------
        staff_ctx = context("s.staff")
        staff = staff_ctx.new_page()
        staff.goto(f"{portal.url}/login")
        visit(staff, "01-login")
        login(staff, portal, "s.staff", initial)
        staff.wait_for_url("**/password")
        visit(staff, "02-password-change")
        staff.get_by_label("現在のパスワード").fill(initial)
        staff.get_by_label("新しいパスワード（12 文字以上）").fill(PASSWORD)
        staff.get_by_label("新しいパスワード（確認）").fill(PASSWORD)
        staff.get_by_role("button", name="変更する").click()
        staff.wait_for_url("**/staff")
        staff.get_by_label("承認（審議会の承認）").select_option("kurume-2020-teigaku")
        staff.get_by_label("提供先").select_option("chikugo-print")
        staff.get_by_label("受け渡し方法").select_option("lgwan-asp")
        staff.get_by_label("パスワード通知の方法").select_option("registered-mail")
        staff.get_by_label("宛名ファイル（CSV）").set_input_files(str(full_size_file))
        visit(staff, "03-staff-send")
        phase("staff login and form")
        staff.get_by_role("button", name="確認して送信").click()
        settle(staff, "#confirm", timeout=120_000)
        phase("upload and screening")
        assert staff.locator("#progress").count() == 0  # the confirm page replaced the form
        assert "筑後" in staff.locator("#confirm-recipient").inner_text()
        assert f"{records_in_file:,}" in staff.locator("#confirm-records").inner_text()
        visit(staff, "04-staff-confirm")
        staff.get_by_role("button", name="送信する", exact=True).click()
        settle(staff, "#transfer-id", timeout=120_000)
        phase("confirm and send")
        visit(staff, "04b-staff-result")
        transfer = staff.locator("#transfer-id").inner_text().strip()
        records = int(staff.locator("#records").inner_text())
        sha256 = staff.locator("#sha256").inner_text().strip()
        assert records == records_in_file
        assert full_size_file.name in staff.locator("code.filename").inner_text()
        with staff_ctx.expect_page() as notice_info:
            staff.locator("#notice-link").click()
        notice = notice_info.value
        notice.wait_for_load_state()
        # Printed as designed: the notice's own style applies under the portal's CSP (allowed by hash).
        assert notice.eval_on_selector("h1", "e => getComputedStyle(e).textAlign") == "center"
        visit(notice, "05-password-notice")
        passphrase = re.search(r"<td class=\"passphrase\">([2-9A-Z-]+)</td>", notice.content()).group(1)
        assert passphrase and sha256 in notice.content()
        # Once: the same link a second time shows no notice.
        again = staff_ctx.new_page()
        again.goto(notice.url)
        assert "一度だけ" in again.content() and passphrase.split("-")[0] not in again.content()
        notice.close()
        again.close()
        staff.goto(f"{portal.url}/staff/transfers/{transfer}")
        staff.get_by_label("発送方法").select_option("registered-mail")
        staff.get_by_label("簡易書留の番号").fill("1234-5678-9012")
        submit(staff, "発送を記録", "**/dispatch", "#dispatch-id")
        visit(staff, "06-staff-dispatch")
        # Staff have no download: the contractor's route refuses them.
        r = staff.goto(f"{portal.url}/contractor/transfers/{transfer}/package")
        assert r is not None and r.status == 403
        phase("notice and dispatch")

        # -- contractor: download, decrypt with age -d, confirm receipt ---------------------------
        handler_ctx = context("k.tanaka")
        handler = handler_ctx.new_page()
        login(handler, portal, "k.tanaka", PASSWORD)
        handler.wait_for_url("**/contractor")
        visit(handler, "07-contractor-list")
        handler.get_by_role("link", name=transfer).click()
        handler.wait_for_url(f"**/contractor/transfers/{transfer}")
        visit(handler, "08-contractor-transfer")
        with handler.expect_download(timeout=120_000) as dl:
            handler.locator("#download").click()
        package = tmp_path / "package.age"
        dl.value.save_as(str(package))
        assert dl.value.suggested_filename == f"{transfer}.age"
        phase("download")
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
        del data, text
        assert (count, digest) == (records, sha256)
        phase("age -d and count")
        handler.reload()  # the page now shows the next step for a downloaded transfer: the receipt
        assert handler.locator("#next-action p").get_attribute("data-next") == "receipt"
        handler.get_by_label("復号して数えた件数").fill(str(count))
        handler.get_by_label("復号したファイルの SHA-256（gateway package decrypt が表示）").fill(digest)
        submit(handler, "受領を確認", "**/receipt", "#ok-message")
        assert handler.locator("#state").get_attribute("data-state") == "received"
        visit(handler, "09-contractor-receipt")

        # -- contractor: a deliverable back under the same approval, then the deletion request ----
        name = "返戻一覧_{{7*7}} <b>.csv"
        returned = tmp_path / name
        returned.write_bytes("宛名番号,返戻理由\n000123,あて所に尋ねあたりません\n".encode("cp932"))
        handler.get_by_label("納品するファイル").set_input_files(str(returned))
        submit(handler, "納品する", "**/deliverables", "#ok-message")
        row = handler.locator("#deliverables tr.new")
        assert row.locator("code.filename").inner_text() == name  # literally, not rendered or escaped twice
        assert f"{returned.stat().st_size:,} bytes" in row.inner_text()
        visit(handler, "10-contractor-deliverable")
        handler.get_by_label("消去する項目").fill("宛名データ一式（CSV）、印刷用中間データ")
        handler.get_by_label("媒体・保管場所").fill("印刷システムのサーバー（本社データセンター）")
        handler.get_by_label("数量").fill("2")
        handler.get_by_label("消去方法").fill("暗号化消去と上書き（NIST SP 800-88 purge）")
        handler.get_by_label("予定日").fill("2020-09-15")
        submit(handler, "消去依頼を提出", "**/deletions", "#ok-message")
        deletion_id = re.search(r"D-[0-9a-f]{12}", handler.locator("#ok-message").inner_text()).group(0)
        visit(handler, "11-contractor-deletion-request")
        phase("receipt, deliverable, deletion request")

        # -- staff: reminders on the start page, then the decision with a witness -------------------
        staff.goto(f"{portal.url}/staff")
        reminders = staff.locator("#reminders").inner_text()
        assert transfer in reminders and "ゲートウェイ上の複製の消去" in reminders
        assert staff.locator("#pending-deletions").count() == 1
        visit(staff, "12-staff-home-reminders")
        staff.get_by_role("link", name="消去依頼を審査する").click()
        staff.wait_for_url("**/staff/deletions")
        section = staff.locator(f"#deletion-{deletion_id}")
        assert "印刷システムのサーバー" in section.inner_text()
        section.get_by_label("承認する").check()
        section.get_by_label("立会人（任意）").fill("久留米市 市民課 主査 久留米 花子")
        section.get_by_role("button", name="決定を記録").click()
        staff.wait_for_url("**/decision")
        settle(staff, "#decision-done")
        assert staff.locator(f"#deletion-{deletion_id} .state").get_attribute("data-state") == "approved"
        visit(staff, "13-staff-deletion-decision")
        phase("staff reminders and decision")

        # -- contractor: the erasure certificate after the approval --------------------------------
        # Erased after the approval (an erasure dated before it is refused: attestation-out-of-order).
        portal.clock.advance(timedelta(minutes=2))
        handler.goto(f"{portal.url}/contractor/transfers/{transfer}")
        erased = to_jst(portal.clock.now() - timedelta(minutes=1))
        handler.get_by_label("消去日時").fill(f"{erased:%Y-%m-%dT%H:%M}")
        for label, value in (("媒体の製造元", "Example Storage"), ("媒体の型番", "ES-4000"),
                             ("製造番号・場所", "SN 1234-ABCD（本社データセンター）"),
                             ("技法", "暗号鍵の消去（cryptographic erase）"), ("使用ツール（名称・版）", "eraser 2.1"),
                             ("検証方法", "全領域の読み出しで復元不能を確認"), ("消去者の氏名", "筑後 太郎"),
                             ("消去者の役職", "情報システム課長"), ("確認者の氏名", "筑後 次郎"),
                             ("確認者の役職", "品質管理責任者"), ("場所", "筑後印刷 本社")):
            handler.get_by_label(label, exact=True).fill(value)
        handler.get_by_label("消去の区分").select_option("purge")
        submit(handler, "消去証明を提出", "**/certificate", "#ok-message")
        assert "erasure certificate filed" in handler.locator("#ok-message").inner_text()
        visit(handler, "14-contractor-certificate")
        phase("erasure certificate")
    finally:
        for ctx, data_dir in opened:
            ctx.close()
            shutil.rmtree(data_dir, ignore_errors=True)

    # -- security officer: everything in the log -------------------------------------------------
    ctx, d3 = open_context(browser, portal, "sec.officer")
    try:
        page = ctx.new_page()
        login(page, portal, "sec.officer", PASSWORD)
        page.wait_for_url("**/officer")
        page.get_by_label("承認").fill("kurume-2020-teigaku")
        page.get_by_role("button", name="絞り込む").click()
        page.wait_for_url("**/officer?**")
        visit(page, "15-officer-log")
        log = page.locator("#log").inner_text()
        for expected in ("transfer.send", "notice.dispatch", "transfer.download", "transfer.receipt",
                         "deliverable.upload", "deletion.request", "deletion.decide", "deletion.certify",
                         "s.staff", "k.tanaka", transfer, name):
            assert expected in log, expected
        page.goto(f"{portal.url}/officer/chain")
        assert page.locator("#chain-ok").count() == 1
        visit(page, "16-officer-chain")
        page.goto(f"{portal.url}/officer/approvals")
        assert transfer in page.content()
        visit(page, "17-officer-approvals")
        page.goto(f"{portal.url}/officer/report?approval=kurume-2020-teigaku")
        assert page.locator("#verified").get_attribute("data-verified") == "true"
        visit(page, "18-officer-report")
        page.goto(f"{portal.url}/officer?lang=en")
        assert "Access log" in page.content()
        visit(page, "19-officer-log-en")
        phase("officer")
    finally:
        ctx.close()
        shutil.rmtree(d3, ignore_errors=True)
    phase.save(records=records, file_bytes=full_size_file.stat().st_size)


def test_an_oversized_file_is_refused_on_the_page_at_once(browser, portal, tmp_path):
    """Above the limit the page says so within seconds (the declared length is refused before the
    body is read), instead of leaving the person, or a test, waiting for a result."""
    big = tmp_path / "too-big.csv"
    with big.open("wb") as f:
        f.truncate(MAX_UPLOAD + 1024 * 1024)  # sparse: costs no disk
    ctx, data_dir = open_context(browser, portal, "s.staff")
    try:
        page = ctx.new_page()
        login(page, portal, "s.staff", PASSWORD)
        page.wait_for_url("**/staff")
        page.get_by_label("宛名ファイル（CSV）").set_input_files(str(big))
        started = time.perf_counter()
        page.get_by_role("button", name="確認して送信").click()
        alert = page.locator("[role=alert]:visible")
        alert.first.wait_for(timeout=30_000)
        assert time.perf_counter() - started < 30
        said = alert.first.inner_text()
        assert "大きすぎ" in said or "途中で切れました" in said, said
        visit(page, "20-staff-send-too-large")
    finally:
        ctx.close()
        shutil.rmtree(data_dir, ignore_errors=True)
    assert not any(p.suffix == ".upload" for p in (portal.home / "work").iterdir())
