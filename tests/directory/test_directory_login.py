"""Directory login through the portal's API against a real slapd (issue 22, item 4): city staff and
officers bind as themselves over StartTLS or LDAPS, their groups give their role, the terminal
certificate is still required, and every failure (bad password, no mapped group, several roles,
directory down, TLS failure, lockout, a person removed from the directory or from a group) is
refused in both languages and logged once through the one refusal path."""
from __future__ import annotations

from typing import Any

import httpx

from tests.directory.conftest import LOCAL_HANDLER, directory_as, entries_after, last_seq
from tests.directory.slapd import STAFF_GROUP, make_ca, password_of
from tests.portal.conftest import PASSWORD, Portal


def token_request(portal: Portal, login: str, password: str, *, terminal: str | None = None) -> httpx.Response:
    with portal.client(terminal or login) as c:
        return c.post("/api/v1/tokens", json={"login": login, "password": password})


def me(portal: Portal, login: str, token: str) -> dict[str, Any]:
    with portal.client(login) as c:
        r = c.get("/api/v1/me", headers={"authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        return r.json()


def refused_once(portal: Portal, login: str, password: str, status: int, *, terminal: str | None = None
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The answer to a failed login and its one log entry."""
    before = last_seq(portal)
    r = token_request(portal, login, password, terminal=terminal)
    assert r.status_code == status, r.text
    new = entries_after(portal, before)
    assert [(e["action"], e["outcome"]) for e in new] in ([("auth.login", "refused")], [("auth.lockout", "refused")]), new
    body = r.json()
    assert body["ja"] and body["en"] and body["ja"] != body["en"]  # Japanese first, English second
    return body, new[0]


def test_staff_log_in_through_the_directory_over_starttls(portal: Portal) -> None:
    before = last_seq(portal)
    r = token_request(portal, "s.yamada", password_of("s.yamada"))
    assert r.status_code == 200, r.text
    assert r.json()["must_change_password"] is False  # the directory manages the password
    assert me(portal, "s.yamada", r.json()["token"])["role"] == "staff"
    [entry] = [e for e in entries_after(portal, before) if e["action"] == "auth.login"]
    assert entry["outcome"] == "ok" and entry["actor"]["user"] == "s.yamada"
    assert "uid=s.yamada,ou=people" in entry["reason"] and "ldap://127.0.0.1" in entry["reason"]


def test_and_over_ldaps(portal: Portal, slapd) -> None:
    with directory_as(portal, url=slapd.ldaps_url):
        r = token_request(portal, "s.yamada", password_of("s.yamada"))
    assert r.status_code == 200, r.text
    assert me(portal, "s.yamada", r.json()["token"])["role"] == "staff"


def test_the_entry_can_be_found_after_the_bind_as_active_directory_needs(portal: Portal) -> None:
    # AD binds with a user principal name, not a DN: the entry's DN is then searched for, with the
    # person's own rights, and its groups read as before. slapd plays it with (uid={login}).
    with directory_as(portal, user_base="ou=people,dc=kurume,dc=example", user_filter="(uid={login})"):
        r = token_request(portal, "s.yamada", password_of("s.yamada"))
        assert r.status_code == 200, r.text
        with directory_as(portal, user_filter="(uid=nobody-{login})"):
            _body, entry = refused_once(portal, "s.yamada", password_of("s.yamada"), 401)
    assert "user_filter found 0 entries" in entry["reason"]


def test_the_role_follows_the_directory_groups_and_the_change_is_logged(portal: Portal) -> None:
    before = last_seq(portal)
    r = token_request(portal, "m.kato", password_of("m.kato"))  # registered as staff, in the officers' group
    assert r.status_code == 200, r.text
    assert me(portal, "m.kato", r.json()["token"])["role"] == "security-officer"
    [entry] = [e for e in entries_after(portal, before) if e["action"] == "auth.login"]
    assert "role security-officer (was staff)" in entry["reason"]


def test_a_directory_password_is_not_changed_at_the_gateway(portal: Portal) -> None:
    token = token_request(portal, "s.yamada", password_of("s.yamada")).json()["token"]
    before = last_seq(portal)
    with portal.client("s.yamada") as c:
        r = c.post("/api/v1/password", headers={"authorization": f"Bearer {token}"},
                   json={"current": password_of("s.yamada"), "new": "another-password-2020"})
    assert r.status_code == 409 and "change it there" in r.json()["en"]
    assert [(e["action"], e["outcome"]) for e in entries_after(portal, before)] == [("auth.password-change", "refused")]


def test_a_wrong_password_is_refused_and_logged(portal: Portal) -> None:
    body, entry = refused_once(portal, "s.yamada", "not-the-password", 401)
    assert body["category"] == "unauthenticated" and "ID とパスワード" in body["ja"]
    assert "directory refused the credentials" in entry["reason"]
    assert "not-the-password" not in str(entry)


def test_an_empty_password_never_reaches_the_directory_as_an_anonymous_bind(portal: Portal) -> None:
    _body, entry = refused_once(portal, "s.yamada", "", 401)
    assert "empty password" in entry["reason"]


def test_a_person_in_no_mapped_group_is_told_so_after_the_right_password(portal: Portal) -> None:
    body, entry = refused_once(portal, "n.ito", password_of("n.ito"), 401)
    assert "グループ" in body["ja"] and "no role at this gateway" in body["en"]
    assert "in no group mapped to a role" in entry["reason"]
    # With a wrong password the same person learns nothing about their groups.
    body, _ = refused_once(portal, "n.ito", "wrong-password-1", 401)
    assert "no role" not in body["en"]


def test_groups_that_map_to_two_roles_are_refused(portal: Portal) -> None:
    body, entry = refused_once(portal, "r.both", password_of("r.both"), 401)
    assert "several roles" in body["en"] and "security-officer" in entry["reason"] and "staff" in entry["reason"]


def test_someone_elses_terminal_does_not_log_a_directory_user_in(portal: Portal) -> None:
    _body, entry = refused_once(portal, "s.yamada", password_of("s.yamada"), 401, terminal="k.leaver")
    assert "terminal certificate was issued to another account" in entry["reason"]


def test_a_directory_that_cannot_be_reached_is_refused_and_logged_without_locking_anyone(portal: Portal) -> None:
    from tests.directory.slapd import free_port

    with directory_as(portal, url=f"ldap://127.0.0.1:{free_port()}"):
        for _ in range(portal.gw.settings.portal.login_account_failures + 1):
            body, entry = refused_once(portal, "s.yamada", password_of("s.yamada"), 503)
    assert body["category"] == "unavailable" and "ディレクトリ" in body["ja"] and "directory" in body["en"]
    assert "unreachable" in entry["reason"] and "TLS" not in entry["reason"] and entry["kinds"] == []
    # An outage is nobody's failed login: the person logs in as soon as the directory is back.
    r = token_request(portal, "s.yamada", password_of("s.yamada"))
    assert r.status_code == 200, r.text


def test_a_directory_certificate_from_another_ca_is_a_tls_failure(portal: Portal, slapd, tmp_path) -> None:
    other_ca, _key, _cert = make_ca(tmp_path, "not the directory CA")
    for url in (slapd.starttls_url, slapd.ldaps_url):
        with directory_as(portal, url=url, cafile=str(other_ca)):
            body, entry = refused_once(portal, "s.yamada", password_of("s.yamada"), 503)
        assert body["category"] == "unavailable"
        assert url in entry["reason"] and "answered, but TLS failed" in entry["reason"]


def test_repeated_wrong_passwords_lock_a_directory_account_as_a_local_one(portal: Portal) -> None:
    limit = portal.gw.settings.portal.login_account_failures
    for _ in range(limit - 1):
        refused_once(portal, "l.locked", "wrong-password-1", 401)
    body, entry = refused_once(portal, "l.locked", "wrong-password-1", 401)
    assert entry["action"] == "auth.lockout" and entry["kinds"] == ["brute-force"] and body["kinds"] == ["brute-force"]
    # Locked: even the right password is refused, and the directory is not asked.
    _body, entry = refused_once(portal, "l.locked", password_of("l.locked"), 401)
    assert entry["reason"].startswith("login locked")


def test_a_person_who_leaves_the_group_is_refused_at_the_next_login(portal: Portal, slapd) -> None:
    assert token_request(portal, "k.leaver", password_of("k.leaver")).status_code == 200
    slapd.remove_from_group("k.leaver", STAFF_GROUP)
    body, entry = refused_once(portal, "k.leaver", password_of("k.leaver"), 401)
    assert "no role at this gateway" in body["en"] and "in no group mapped to a role" in entry["reason"]


def test_a_person_removed_from_the_directory_is_refused_at_the_next_login(portal: Portal, slapd) -> None:
    assert token_request(portal, "d.gone", password_of("d.gone")).status_code == 200
    slapd.delete_person("d.gone")
    _body, entry = refused_once(portal, "d.gone", password_of("d.gone"), 401)
    assert "directory refused the credentials" in entry["reason"]


def test_contractors_keep_their_local_accounts(portal: Portal) -> None:
    r = token_request(portal, LOCAL_HANDLER, PASSWORD)
    assert r.status_code == 200, r.text
    assert me(portal, LOCAL_HANDLER, r.json()["token"])["role"] == "contractor"
    # A directory password is not a way into a local account, nor a local one into the directory's.
    refused_once(portal, LOCAL_HANDLER, password_of("s.yamada"), 401)
    refused_once(portal, "s.yamada", PASSWORD, 401)
