"""Administration under /admin (issue 23, item 2; issue 20, item 5): an administrator with a terminal
certificate and password manages accounts over their life, terminal certificates, SSH keys,
approvals (a TOML upload checked as strictly as on the command line) and handler lists; every act
is logged and the city's security officer reads it in their log; nobody else reaches the pages."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from gateway.store import models as m
from gateway.store.models_portal import LoginThrottle
from tests.conftest import APPROVALS
from tests.portal.conftest import Portal, csrf_of

KURUME = "kurume-2020-teigaku"


def post(c, path: str, page: str, **data: str):
    return c.post(path, data={"csrf": csrf_of(c.get(page).text), **data})


def officer_log(portal: Portal, officer: str, **params: str) -> str:
    return portal.login(officer).get("/officer", params={"limit": "500", **params}).text


def test_only_the_administrator_reaches_the_pages(admin: Portal) -> None:
    c = admin.login("admin")
    assert c.get("/admin").status_code == 200
    for page in ("/admin/approvals", f"/admin/approvals/{KURUME}", "/admin/organisations", "/admin/users/s.staff"):
        r = c.get(page)
        assert r.status_code == 200, page
        assert 'aria-current="page"' in r.text or page.count("/") > 2
    for login in ("s.staff", "sec.officer", "k.tanaka"):
        assert admin.login(login).get("/admin").status_code == 403
    assert admin.client("admin").get("/admin", follow_redirects=False).status_code in (302, 303, 401)


def test_an_account_over_its_life_is_logged_for_the_officer(admin: Portal) -> None:
    c = admin.login("admin")
    r = post(c, "/admin/users", "/admin", login="kr.clerk", name="久留米 事務員", org="kurume", role="staff")
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/users/kr.clerk")
    page = "/admin/users/kr.clerk"
    r = post(c, f"{page}/issue-password", page)
    assert r.status_code == 200
    assert re.search(r'id="initial-password">[A-Za-z0-9-]{20,}<', r.text)
    assert post(c, f"{page}/delivered", page, method="registered-mail", reference="簡易書留 1111-2222").status_code == 303
    assert "簡易書留 1111-2222" in c.get(page).text

    r = post(c, f"{page}/issue-terminal", page)
    assert r.status_code == 200 and 'id="p12-password"' in r.text
    link = re.search(r'id="p12-download" href="([^"]+)"', r.text).group(1)
    p12 = c.get(link)
    assert p12.status_code == 200 and p12.headers["content-type"] == "application/x-pkcs12" and len(p12.content) > 500
    assert c.get(link).status_code == 404  # handed out once
    serial = re.search(r"<code>([0-9a-f]{8,})</code>", c.get(page).text).group(1)

    refused = post(c, f"{page}/disable", page, reason=" ")
    assert refused.status_code == 400 and "理由" in refused.text
    assert post(c, f"{page}/disable", page, reason="異動（福祉課へ）").status_code == 303
    assert 'data-state="disabled"' in c.get(page).text
    assert post(c, f"{page}/disable", page, reason="again").status_code == 409
    assert post(c, f"{page}/enable", page, reason="復帰").status_code == 303

    with admin.gw.unit() as s:  # a lock as five failed log-ins leave it (without tiring the shared source limit)
        s.add(LoginThrottle(scope="account", key="kr.clerk", failures=5, first_failure_at=admin.clock.now(),
                            locked_until=admin.clock.now() + timedelta(minutes=15)))
    assert 'data-state="locked"' in c.get(page).text
    assert post(c, f"{page}/unlock", page).status_code == 303
    assert 'data-state="active"' in c.get(page).text
    assert post(c, f"{page}/unlock", page).status_code == 409
    assert post(c, f"{page}/revoke-terminal", page, serial=serial).status_code == 303
    assert "失効" in c.get(page).text

    log = officer_log(admin, "sec.officer", actor="admin")
    for action in ("user.add", "user.issue-password", "user.credentials-delivered", "terminal.issue", "user.disable",
                   "user.enable", "user.unlock", "terminal.revoke"):
        assert action in log, action
    assert "kr.clerk" in log and "異動（福祉課へ）" in log
    assert "kr.clerk" not in officer_log(admin, "sj.officer", actor="admin")  # another city's officer


def test_ssh_keys_are_registered_and_revoked(admin: Portal, tmp_path: Path) -> None:
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True)
    public = (tmp_path / "k.pub").read_text()
    c = admin.login("admin")
    page = "/admin/users/t.kobayashi"
    assert post(c, f"{page}/add-key", page, key=public).status_code == 303
    fp = re.search(r"<code>(SHA256:[^<]+)</code>", c.get(page).text).group(1)
    assert post(c, f"{page}/revoke-key", page, fingerprint=fp).status_code == 303
    assert post(c, f"{page}/revoke-key", page, fingerprint=fp).status_code == 409
    bad = post(c, f"{page}/add-key", page, key="not a key")
    assert bad.status_code == 400 and 'role="alert"' in bad.text
    log = officer_log(admin, "sj.officer", action="user.")
    assert "user.add-key" in log and "user.revoke-key" in log


def test_approvals_from_an_upload_and_a_handler_leaving_mid_contract(admin: Portal, kurume_transfer: dict,
                                                                     tmp_path: Path) -> None:
    c = admin.login("admin")
    token = csrf_of(c.get("/admin/approvals").text)
    bad = c.post("/admin/approvals", data={"csrf": token},
                 files={"file": ("久留米_承認案.toml", b'id = "x"\nunknown = 1\n', "application/toml")})
    assert bad.status_code == 400 and "久留米_承認案.toml" in bad.text and "portal-approval-" not in bad.text
    same = c.post("/admin/approvals", data={"csrf": token},
                  files={"file": (f"{KURUME}.toml", (APPROVALS / f"{KURUME}.toml").read_bytes(), "application/toml")})
    assert same.status_code == 303 and same.headers["location"].startswith(f"/admin/approvals/{KURUME}")

    page = f"/admin/approvals/{KURUME}"
    handler = admin.login("k.tanaka")
    assert kurume_transfer["transfer"] in handler.get("/contractor").text
    r = post(c, f"{page}/handlers", page, org="chikugo-print", remove="k.tanaka", add="k.sato:佐藤 三郎:handler",
             decision_ref="久市民第2001号", reason="k.tanaka 退職")
    try:
        assert r.status_code == 303
        shown = c.get(page).text
        assert 'data-login="k.sato"' in shown and 'data-login="k.tanaka"' not in shown and "久市民第2001号" in shown
        # The leaver no longer sees the city's transfers; the approval was not registered again.
        assert kurume_transfer["transfer"] not in admin.login("k.tanaka").get("/contractor").text
        assert admin.login("k.tanaka").get(f"/contractor/transfers/{kurume_transfer['transfer']}").status_code == 404
        no_decision = post(c, f"{page}/handlers", page, org="chikugo-print", add="k.ito:伊藤:handler",
                           decision_ref="", reason="x")
        assert no_decision.status_code == 400 and "市の決定" in no_decision.text
    finally:
        back = post(c, f"{page}/handlers", page, org="chikugo-print", remove="k.sato",
                    add="k.tanaka:田中 一郎:responsible", decision_ref="久市民第2002号", reason="復職")
        assert back.status_code == 303
    assert kurume_transfer["transfer"] in admin.login("k.tanaka").get("/contractor").text
    log = officer_log(admin, "sec.officer", action="approval.amend-handlers")
    assert log.count("取扱者の変更") >= 3  # two amendments and the refused one
    with admin.gw.read() as s:
        assert s.scalar(select(m.Approval.source_sha256).where(m.Approval.id == KURUME))
