"""Staff send in three steps, 入力 → 確認 → 完了 (issue 23, item 3): nothing leaves before the
confirm page was seen and confirmed; errors name the person's own file; and the contractor's
transfer page shows the next step for the state it is in and refuses a repeated deletion request."""
from __future__ import annotations

import re
from pathlib import Path

import httpx
from sqlalchemy import func, select

from gateway.store import models as m
from tests.portal.conftest import Portal, bearer, csrf_of, send_via_api

FORM = {"approval": "kurume-2020-teigaku", "recipient": "chikugo-print", "profile": "lgwan-asp",
        "password_delivery": "registered-mail"}


def transfers(portal: Portal) -> int:
    with portal.gw.read() as s:
        return int(s.scalar(select(func.count()).select_from(m.Transfer)) or 0)


def staged_files(portal: Portal) -> set[str]:
    return {p.name for p in (portal.home / "work").glob("*.upload")}


def upload(c: httpx.Client, path: Path, name: str) -> httpx.Response:
    token = csrf_of(c.get("/staff").text)
    with path.open("rb") as f:
        return c.post("/staff/confirm", data={"csrf": token, **FORM}, files={"file": (name, f, "text/csv")})


def test_input_confirm_done(portal: Portal, recipients_file: Path) -> None:
    c = portal.login("s.staff")
    assert 'action="/staff/confirm"' in c.get("/staff").text
    before, files = transfers(portal), staged_files(portal)
    r = upload(c, recipients_file, "宛名_2020.csv")
    assert r.status_code == 200, r.text[:500]
    assert transfers(portal) == before  # 確認: nothing has been sent
    assert 'aria-current="step"' in r.text and "確認" in r.text
    assert "宛名_2020.csv" in r.text and "筑後" in r.text and "3,000" in r.text
    columns = re.search(r'id="confirm-columns">([^<]+)<', r.text).group(1)
    assert "氏名" in columns and "_" not in columns  # the Japanese headers, not the column ids
    token = re.search(r'name="token" value="([^"]+)"', r.text).group(1)
    page_csrf = csrf_of(r.text)

    done = c.post("/staff/confirmed", data={"csrf": page_csrf, "token": token, "action": "send"})
    assert done.status_code == 200 and 'id="transfer-id"' in done.text and 'id="notice-link"' in done.text
    assert transfers(portal) == before + 1
    again = c.post("/staff/confirmed", data={"csrf": page_csrf, "token": token, "action": "send"})
    assert again.status_code == 404 and transfers(portal) == before + 1  # one confirmation, one send
    assert staged_files(portal) == files

    r = upload(c, recipients_file, "取りやめ.csv")
    token = re.search(r'name="token" value="([^"]+)"', r.text).group(1)
    back = c.post("/staff/confirmed", data={"csrf": csrf_of(r.text), "token": token, "action": "back"})
    assert back.status_code == 303 and transfers(portal) == before + 1
    assert staged_files(portal) == files  # going back leaves nothing behind
    # Another session cannot use the token.
    other = portal.login("s.staff")
    assert other.post("/staff/confirmed", data={"csrf": csrf_of(other.get("/staff").text), "token": token,
                                                 "action": "send"}).status_code == 404


def test_the_confirm_page_names_the_second_check_and_the_send_waits_for_it(portal: Portal,
                                                                          recipients_file: Path) -> None:
    """確認 shows whether a second person must check the send and who may (the approval's
    approvers); confirmed, such a send is held in pending-check with no notice."""
    c = portal.login("s.staff")
    plain = upload(c, recipients_file, "確認なし.csv")
    assert re.search(r'id="confirm-second-check">不要', plain.text)
    back = c.post("/staff/confirmed", data={"csrf": csrf_of(plain.text), "action": "back",
                                             "token": re.search(r'name="token" value="([^"]+)"', plain.text).group(1)})
    assert back.status_code == 303  # nothing stays staged for the tests that follow
    token = csrf_of(c.get("/staff").text)
    with recipients_file.open("rb") as f:
        r = c.post("/staff/confirm", data={"csrf": token, **FORM, "second_check": "on"},
                   files={"file": ("確認あり.csv", f, "text/csv")})
    shown = re.search(r'id="confirm-second-check">([^<]+)<', r.text).group(1)
    assert shown.startswith("必要") and "requested-by-sender" in shown and "kurume.kakari" in shown
    before = transfers(portal)
    done = c.post("/staff/confirmed", data={"csrf": csrf_of(r.text), "action": "send",
                                             "token": re.search(r'name="token" value="([^"]+)"', r.text).group(1)})
    assert done.status_code == 200 and transfers(portal) == before + 1
    assert 'id="notice-link"' not in done.text  # no notice before the check
    held = re.search(r'id="transfer-id">([^<]+)<', done.text).group(1)
    with portal.gw.read() as s:
        assert s.get(m.Transfer, held).state == "pending-check"


def test_a_refused_file_is_named_as_the_person_named_it(portal: Portal, tmp_path: Path) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("氏名,好きな食べ物\n山田 太郎,カレー\n", encoding="utf-8")
    c = portal.login("s.staff")
    before = transfers(portal)
    r = upload(c, bad, "bad.csv")
    assert r.status_code in (400, 422), r.text[:300]
    assert "bad.csv" in r.text and ".upload" not in r.text
    assert transfers(portal) == before
    assert 'role="alert"' in r.text


def test_state_labels_are_japanese(portal: Portal, kurume_transfer: dict) -> None:
    page = portal.login("s.staff").get("/staff").text
    assert re.search(r"<td>(送信済み|ダウンロード済み|受領確認済み|消去済み)", page)


def test_the_contractors_page_shows_the_next_step_and_refuses_a_repeat(portal: Portal, recipients_file: Path) -> None:
    sent = send_via_api(portal, recipients_file)
    tid = sent["transfer"]
    c = portal.login("k.tanaka")

    def next_step() -> str:
        return re.search(r'data-next="([a-z-]+)"', c.get(f"/contractor/transfers/{tid}").text).group(1)

    page = c.get(f"/contractor/transfers/{tid}").text
    assert next_step() == "download" and 'id="download"' in page and 'action="/contractor/transfers/' + tid + '/deletions"' not in page
    with bearer(portal, "k.tanaka") as (api, h):
        assert api.get(f"/api/v1/transfers/{tid}/package", headers=h).status_code == 200
        assert next_step() == "receipt"
        with portal.gw.read() as s:
            t = s.get(m.Transfer, tid)
            count, digest = t.record_count, t.plaintext_sha256
        assert api.post(f"/api/v1/transfers/{tid}/receipt", headers=h,
                        json={"records": count, "sha256": digest}).status_code == 200
        assert next_step() == "deliver-or-delete"
        request = {"items": "宛名データ一式", "media": "印刷サーバー", "quantity": 1, "method": "暗号化消去",
                   "planned_date": "2020-09-15"}
        first = api.post(f"/api/v1/transfers/{tid}/deletions", headers=h, json=request)
        assert first.status_code == 200
        assert next_step() == "wait"
        repeat = api.post(f"/api/v1/transfers/{tid}/deletions", headers=h, json={**request, "items": " 宛名データ一式 "})
        assert repeat.status_code == 409 and first.json()["deletion"] in repeat.json()["ja"]
    form_page = c.get(f"/contractor/transfers/{tid}")
    assert f'action="/contractor/transfers/{tid}/deletions"' not in form_page.text
    with portal.gw.read() as s:
        assert s.scalar(select(func.count()).select_from(m.ContractorDeletion)
                        .where(m.ContractorDeletion.transfer_id == tid)) == 1
