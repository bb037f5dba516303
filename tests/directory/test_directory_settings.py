"""`[directory]` at the command line (issue 22, item 4): `gateway settings show --json` says what is
in force; a plain connection, a password in the file or a contractor's group is refused with a
bilingual message and no traceback; directory accounts are registered with `user add --directory`
only for the directory's own city, and never get a gateway password. No server is needed here."""
from __future__ import annotations

import json

import pytest

from tests.conftest import APPROVALS, run_gateway
from tests.directory.conftest import directory_table
from tests.directory.slapd import OFFICER_GROUP, STAFF_GROUP

pytestmark = pytest.mark.usefixtures("home")


def configure(home, text: str) -> None:
    with (home / "gateway.toml").open("a", encoding="utf-8") as f:
        f.write("\n" + text)


def refused(*args: str) -> str:
    proc = run_gateway(*args, check=False)
    assert proc.returncode == 1, proc
    assert "Traceback" not in proc.stderr
    return proc.stderr


def test_settings_show_names_the_directory_and_its_group_mapping(home, tmp_path) -> None:
    before = json.loads(run_gateway("settings", "show", "--json").stdout)
    assert before["directory"] is None  # every account local
    configure(home, directory_table("ldap://dc1.city.example", tmp_path / "ca.pem").replace(
        STAFF_GROUP, STAFF_GROUP.replace("cn=gateway-staff,", "CN=Gateway-Staff, ")))
    shown = json.loads(run_gateway("settings", "show", "--json").stdout)["directory"]
    assert shown["url"] == "ldap://dc1.city.example" and shown["starttls"] is True
    assert shown["organisation"] == "kurume"
    # Group DNs are compared as the directory may spell them: case and spaces do not matter.
    assert shown["groups"] == {STAFF_GROUP: "staff", OFFICER_GROUP: "security-officer"}
    assert "[directory]" in run_gateway("settings", "show").stdout


@pytest.mark.parametrize("change, ja, en", [
    (('url = "ldap://', 'url = "http://'), "ldaps://", "must be ldaps://HOST or ldap://HOST"),
    (("timeout_seconds = 3\n", "timeout_seconds = 3\nstarttls = false\n"), "平文", "a plain connection exposes"),
    (("timeout_seconds = 3\n", 'timeout_seconds = 3\nbind_password = "x"\n'), "パスワード", "no password belongs"),
    (("timeout_seconds = 3\n", "timeout_seconds = 3\nuser_filtr = 1\n"), "不明な項目",
     "did you mean: directory.user_filtr → directory.user_filter"),
    (('= "security-officer"', '= "contractor"'), "役割", "use one of staff, security-officer"),
    (('bind_dn = "uid={login},', 'bind_dn = "uid=someone,'), "{login}", "must contain {login}"),
])
def test_a_directory_setting_that_would_be_unsafe_or_wrong_is_refused(home, tmp_path, change, ja, en) -> None:
    configure(home, directory_table("ldap://dc1.city.example", tmp_path / "ca.pem").replace(*change))
    err = refused("settings", "show", "--json")
    assert ja in err and en in err and err.index(ja) < err.index(en)  # Japanese first


def test_directory_accounts_are_registered_for_the_directory_city_only(home, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GATEWAY_FAKE_NOW", "2020-06-01T10:00:00+09:00")
    run_gateway("approval", "add", str(APPROVALS / "kurume-2020-teigaku.toml"))
    add = ("user", "add", "s.yamada", "--org", "kurume", "--role", "staff", "--name", "山田 聡", "--directory")
    assert "[directory]" in refused(*add)  # no directory configured yet
    configure(home, directory_table("ldaps://dc1.city.example", tmp_path / "ca.pem"))
    assert "contractors keep local accounts" in refused(
        "user", "add", "x.print", "--org", "chikugo-print", "--role", "contractor", "--name", "受託 者", "--directory")
    assert "contractors cannot log in through the directory" in refused(
        "user", "add", "k.staff", "--org", "kurume", "--role", "contractor", "--name", "受託 者", "--directory")
    assert json.loads(run_gateway(*add, "--json").stdout)["directory"] is True
    users = {u["login"]: u for u in json.loads(run_gateway("user", "list", "--json").stdout)}
    assert users["s.yamada"]["directory"] is True and users["k.tanaka"]["directory"] is False
    # Its password is the directory's: the gateway issues none.
    assert "logs in through the directory" in refused("user", "issue-password", "s.yamada")
    log = json.loads(run_gateway("log", "--json", "--action", "user.add").stdout)
    assert sum(e["outcome"] == "refused" for e in log) == 3


def test_doctor_checks_the_directory_s_tls_without_sending_a_password(home, slapd, tmp_path) -> None:
    from tests.directory.slapd import make_ca

    configure(home, directory_table(slapd.starttls_url, slapd.ca))
    checks = {c["check"]: c for c in json.loads(run_gateway("doctor", "--json", check=False).stdout)["checks"]}
    assert checks["directory"]["status"] == "ok" and "StartTLS" in checks["directory"]["en"]

    other_ca, _key, _cert = make_ca(tmp_path, "not the directory CA")
    text = (home / "gateway.toml").read_text(encoding="utf-8").replace(str(slapd.ca), str(other_ca))
    (home / "gateway.toml").write_text(text.replace(slapd.starttls_url, slapd.ldaps_url), encoding="utf-8")
    proc = run_gateway("doctor", "--json", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    checks = {c["check"]: c for c in json.loads(proc.stdout)["checks"]}
    assert checks["directory"]["status"] == "error" and "answered, but TLS failed" in checks["directory"]["en"]
    assert checks["directory"]["ja"].startswith("ディレクトリに TLS で接続できません")
