"""The city decides the contractor's deletion requests in the portal (page and
POST /api/v1/deletions/{id}/decision), and staff see deadline reminders on their start page."""
from __future__ import annotations

import uuid

from tests.portal.conftest import bearer, log_entries

REQUEST = {"items": "宛名データ一式", "media": "印刷サーバー", "quantity": 1, "method": "暗号化消去",
           "planned_date": "2020-09-15"}


def file_request(portal, tid: str) -> str:
    # Each test's request is for other items: a second request for the same items is a conflict.
    with bearer(portal, "k.tanaka") as (c, h):
        r = c.post(f"/api/v1/transfers/{tid}/deletions", headers=h,
                   json={**REQUEST, "items": f"{REQUEST['items']}（{uuid.uuid4().hex[:8]}）"})
    assert r.status_code == 200, r.text
    return r.json()["deletion"]


def state_of(portal, did: str) -> str:
    with bearer(portal, "s.staff") as (c, h):
        rows = c.get("/api/v1/deletions", headers=h).json()
    return next(r["state"] for r in rows if r["id"] == did)


def test_staff_see_pending_requests_and_approve_with_a_witness(portal, kurume_transfer):
    tid = kurume_transfer["transfer"]
    did = file_request(portal, tid)
    c = portal.login("s.staff")
    home = c.get("/staff").text
    assert 'id="pending-deletions"' in home and 'id="reminders"' in home
    page = c.get("/staff/deletions").text
    assert did in page and "印刷サーバー" in page
    token = portal.csrf(c, "/staff/deletions")
    r = c.post(f"/staff/deletions/{did}/decision",
               data={"csrf": token, "decision": "approve", "witness": "市民課 主査 <久留米>"})
    assert r.status_code == 200, r.text
    assert 'id="decision-done"' in r.text and "市民課 主査 &lt;久留米&gt;" in r.text
    assert state_of(portal, did) == "approved"
    decided = [e for e in log_entries(portal, action="deletion.decide", actor="s.staff", outcome="ok")
               if did in (e["reason"] or "")]
    assert len(decided) == 1 and "witness 市民課 主査 <久留米>" in decided[0]["reason"]
    assert decided[0]["object"]["transfer"] == tid
    # The contractor's page now offers the certificate form for it.
    assert f"/contractor/deletions/{did}/certificate" in portal.login("k.tanaka").get(f"/contractor/transfers/{tid}").text


def test_reject_by_api_then_a_second_decision_is_refused(portal, kurume_transfer):
    did = file_request(portal, kurume_transfer["transfer"])
    with bearer(portal, "s.staff") as (c, h):
        assert did in {r["id"] for r in c.get("/api/v1/deletions?state=requested", headers=h).json()}
        r = c.post(f"/api/v1/deletions/{did}/decision", headers=h,
                   json={"approve": False, "reason": "媒体の記載が不足しています"})
        assert r.status_code == 200 and r.json() == {"deletion": did, "state": "rejected", "witness": None}
        again = c.post(f"/api/v1/deletions/{did}/decision", headers=h, json={"approve": True})
        assert again.status_code == 409
        assert did not in {r["id"] for r in c.get("/api/v1/deletions?state=requested", headers=h).json()}
    assert state_of(portal, did) == "rejected"


def test_idor_another_citys_staff(portal, kurume_transfer):
    did = file_request(portal, kurume_transfer["transfer"])
    c = portal.login("sj.staff")  # Shinjuku's staff
    assert did not in c.get("/staff/deletions").text
    assert 'id="pending-deletions"' not in c.get("/staff").text
    token = portal.csrf(c, "/staff/deletions")
    r = c.post(f"/staff/deletions/{did}/decision", data={"csrf": token, "decision": "approve"})
    assert r.status_code == 404 and "見つかりません" in r.text
    with bearer(portal, "sj.staff") as (api, h):
        assert api.post(f"/api/v1/deletions/{did}/decision", headers=h, json={"approve": True}).status_code == 404
        assert api.post("/api/v1/deletions/D-000000000000/decision", headers=h,
                        json={"approve": True}).status_code == 404
        assert did not in {r["id"] for r in api.get("/api/v1/deletions", headers=h).json()}
    assert state_of(portal, did) == "requested"
    refused = [e for e in log_entries(portal, action="deletion.decide", actor="sj.staff", outcome="refused")
               if did in (e["reason"] or "")]
    assert len(refused) == 2 and all(e["object"]["approval"] is None for e in refused)


def test_only_staff_decide_not_even_the_designated_handler(portal, kurume_transfer):
    """Contractors (the designated handler k.tanaka, the non-designated x.outsider) and the
    security officer are refused: the city decides."""
    did = file_request(portal, kurume_transfer["transfer"])
    for login in ("k.tanaka", "x.outsider", "sec.officer"):
        c = portal.login(login)
        home = {"k.tanaka": "/contractor", "x.outsider": "/contractor", "sec.officer": "/officer"}[login]
        token = portal.csrf(c, home)
        assert c.get("/staff/deletions").status_code == 403
        assert c.post(f"/staff/deletions/{did}/decision", data={"csrf": token, "decision": "approve"}).status_code == 403
        with bearer(portal, login) as (api, h):
            assert api.post(f"/api/v1/deletions/{did}/decision", headers=h, json={"approve": True}).status_code == 403
            assert api.get("/api/v1/deletions", headers=h).status_code == 403
    assert state_of(portal, did) == "requested"


def test_csrf_is_required(portal, kurume_transfer):
    did = file_request(portal, kurume_transfer["transfer"])
    c = portal.login("s.staff")
    assert c.post(f"/staff/deletions/{did}/decision", data={"decision": "approve"}).status_code == 403
    assert c.post(f"/staff/deletions/{did}/decision", data={"csrf": "forged", "decision": "approve"}).status_code == 403
    # The page session on the API needs X-CSRF-Token.
    assert c.post(f"/api/v1/deletions/{did}/decision", json={"approve": True}).status_code == 403
    token = portal.csrf(c, "/staff/deletions")
    ok = c.post(f"/api/v1/deletions/{did}/decision", json={"approve": True}, headers={"x-csrf-token": token})
    assert ok.status_code == 200
    assert state_of(portal, did) == "approved"


def test_staff_home_shows_their_citys_reminders_only(portal, kurume_transfer):
    tid = kurume_transfer["transfer"]
    kurume = portal.login("s.staff").get("/staff").text
    table = kurume.split('id="reminders"')[1].split("</table>")[0]
    assert tid in table and "受託者の受領確認" in table
    shinjuku = portal.login("sj.staff").get("/staff").text
    assert tid not in shinjuku.split('id="reminders"')[1].split("</table>")[0]
