"""Accounts over their life from the command line (issue 20, item 5): a leaver's account disabled
and enabled, the delivery of initial credentials recorded, and a handler list amended under the
city's decision without registering the approval again; each act logged, refusals too, and the
amendment is signed evidence the independent auditor verifies."""
from __future__ import annotations

import json

from tests.conftest import city_policy, run_audit, run_gateway

KURUME = "kurume-2020-teigaku"


def log(**filters: str) -> list[dict]:
    args = [item for k, v in filters.items() for item in (f"--{k}", v)]
    return json.loads(run_gateway("log", *args, "--json").stdout)


def state_of(login: str) -> str:
    return next(u["state"] for u in json.loads(run_gateway("user", "list", "--json").stdout) if u["login"] == login)


def handlers(org: str) -> list[str]:
    shown = json.loads(run_gateway("approval", "show", KURUME, "--json").stdout)
    for r in shown["recipients"]:
        if r["organisation"] == org:
            return r["handlers"]
        for s in r.get("subcontractors", []):
            if s["organisation"] == org:
                return s["handlers"]
    raise AssertionError(org)


def test_disable_enable_and_the_delivery_of_credentials_are_logged(kurume) -> None:
    refused = run_gateway("user", "credentials-delivered", "s.staff", "--method", "registered-mail",
                          "--ref", "簡易書留 1234-5678-9012", check=False)
    assert refused.returncode == 1 and "初期パスワードはまだ発行されていません" in refused.stderr
    run_gateway("user", "issue-password", "s.staff")
    out = json.loads(run_gateway("user", "credentials-delivered", "s.staff", "--method", "registered-mail",
                                 "--ref", "簡易書留 1234-5678-9012", "--json").stdout)
    assert out == {"login": "s.staff", "method": "registered-mail", "reference": "簡易書留 1234-5678-9012"}

    assert json.loads(run_gateway("user", "disable", "s.staff", "--reason", "退職（2020年9月30日付）", "--json").stdout) \
        == {"login": "s.staff", "state": "disabled"}
    assert state_of("s.staff") == "disabled"
    again = run_gateway("user", "disable", "s.staff", "--reason", "退職", check=False)
    assert again.returncode == 1 and "既に無効" in again.stderr
    # A disabled account gets no new credentials.
    assert run_gateway("user", "issue-password", "s.staff", check=False).returncode == 1
    run_gateway("user", "enable", "s.staff", "--reason", "再任用")
    assert state_of("s.staff") == "active"
    blank = run_gateway("user", "disable", "s.staff", "--reason", "  ", check=False)
    assert blank.returncode == 1 and "理由" in blank.stderr

    entries = log(actor="admin", action="user.")
    done = [(e["action"], e["outcome"]) for e in reversed(entries)]
    assert ("user.credentials-delivered", "refused") in done and ("user.credentials-delivered", "ok") in done
    assert ("user.disable", "ok") in done and ("user.disable", "refused") in done and ("user.enable", "ok") in done
    assert any("退職" in (e["reason"] or "") for e in entries if e["action"] == "user.disable")
    assert state_of("s.staff") == "active"


def test_a_handler_list_is_amended_under_the_citys_decision_and_verified(kurume, home, tmp_path) -> None:
    before = handlers("chikugo-print")
    assert "k.tanaka" in before
    scan = tmp_path / "decision.pdf"
    scan.write_bytes(b"%PDF-1.4 synthetic decision\n")
    out = json.loads(run_gateway(
        "approval", "amend-handlers", KURUME, "--org", "chikugo-print", "--remove", "k.tanaka",
        "--add", "k.suzuki:鈴木 一:handler", "--decision-ref", "久市民第1234号（2020年10月1日決裁）",
        "--decision", str(scan), "--reason", "k.tanaka 退職、後任 k.suzuki", "--json").stdout)
    assert out["handlers"] == [h for h in before if h != "k.tanaka"] + ["k.suzuki"]
    assert handlers("chikugo-print") == out["handlers"]  # what every channel reads from now on
    # The approval itself was not registered again: adding its file once more changes nothing.
    assert json.loads(run_gateway("approval", "add", KURUME, "--json").stdout)["added"] is False
    assert handlers("chikugo-print") == out["handlers"]
    # The new handler has an account, without credentials yet.
    users = {u["login"]: u for u in json.loads(run_gateway("user", "list", "--json").stdout)}
    assert users["k.suzuki"]["org"] == "chikugo-print" and users["k.suzuki"]["role"] == "contractor"

    for args, words in (
        (["--remove", "k.tanaka"], "取扱者名簿にいません"),  # already gone
        (["--add", "k.suzuki:鈴木 一"], "既に取扱者名簿にいます"),
        (["--add", "nobody"], "ID:氏名"),
        (["--add", "s.staff:職員 一郎"], "別の組織"),
    ):
        r = run_gateway("approval", "amend-handlers", KURUME, "--org", "chikugo-print", *args,
                        "--decision-ref", "久市民第1235号", "--reason", "異動", check=False)
        assert r.returncode == 1 and words in r.stderr, (args, r.stderr)
    city = run_gateway("approval", "amend-handlers", KURUME, "--org", "kurume", "--add", "a.b:氏名",
                       "--decision-ref", "x", "--reason", "y", check=False)
    assert city.returncode == 1

    entries = log(approval=KURUME, action="approval.amend-handlers")
    assert [e["outcome"] for e in entries].count("refused") == 5 and [e["outcome"] for e in entries].count("ok") == 1
    ok = next(e for e in entries if e["outcome"] == "ok")
    assert ok["evidence"]["id"].startswith("handler-amendment-")

    bundle = tmp_path / "bundle"
    run_gateway("export", "evidence", "--approval", KURUME, "-o", str(bundle))
    document = json.loads((bundle / "evidence" / f"{ok['evidence']['id']}.json").read_text(encoding="utf-8"))
    assert document["removed"] == ["k.tanaka"] and document["added"][0]["login"] == "k.suzuki"
    assert document["decision_ref"].startswith("久市民第1234号") and len(document["decision_sha256"]) == 64
    verdict = json.loads(run_audit("verify", str(bundle), "--json", trust=city_policy(home)).stdout)
    assert verdict["verified"] is True, verdict["failures"]
