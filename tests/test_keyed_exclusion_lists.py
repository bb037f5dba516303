"""Screening against a list the city holds apart, by 住民番号 (issue 21, item 4).

Shinjuku keeps DV support-measure persons in a separate list, not as a column of the export. The
gateway takes the list in only as HMAC-SHA256 digests under its own key: the numbers are matched,
removed from what is sent, counted in the evidence, and never stored, logged or exported in clear.
"""
from __future__ import annotations

import json
import os
import shutil

from tests.conftest import APPROVALS, run_gateway
from tests.helpers import files_holding


def _approval(tmp_path):
    text = (APPROVALS / "shinjuku-2020-teigaku.toml").read_text(encoding="utf-8")
    assert 'list_key = "resident_number"' in text  # the shipped approval screens DV evacuees by list
    text = text.replace('id = "shinjuku-2020-teigaku"', 'id = "shinjuku-2020-listed"', 1)
    path = tmp_path / "shinjuku-2020-listed.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _send(source, check=True, env=None):
    return run_gateway("send", str(source), "--approval", "shinjuku-2020-listed", "--recipient", "musashino-forms",
                       "--profile", "lgwan-asp", "--password-delivery", "registered-mail", "--as", "sj.staff",
                       "--paper-ref", "送付伺 1", "--json", check=check, env=env)


def test_persons_on_the_separate_list_are_removed_without_the_list_leaving_the_city(home, tmp_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_FAKE_NOW", "2020-05-20T10:00:00+09:00")
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    run_gateway("approval", "add", str(_approval(tmp_path)))
    run_gateway("user", "add", "sj.staff", "--org", "shinjuku", "--role", "staff", "--name", "職員")
    source = tmp_path / "export.csv"
    run_gateway("generate", "recipients", "--count", "60", "--schema", "shinjuku-2020", "--encoding", "utf-8",
                "--seed", "5", "-o", str(source))
    rows = source.read_text(encoding="utf-8").splitlines()[1:]
    listed = [rows[i].split(",")[0] for i in (3, 17, 40)]
    # the city's list: a header, full-width digits for one, and a number not in this export
    full_width = listed[0].translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    dv_list = tmp_path / "dv-list.csv"
    dv_list.write_text(f"住民番号\n{full_width}\n{listed[1]}\n{listed[2]}\n99999999\n", encoding="utf-8")

    # before the list is imported, the file cannot be screened: refused, nothing sent
    refused = _send(source, check=False)
    assert refused.returncode == 1 and "has not been imported" in refused.stderr

    imported = json.loads(run_gateway("exclusion", "import", "dv-evacuee", "--key-field", "resident_number",
                                      "-i", str(dv_list), "--as", "sj.staff", "--paper-ref", "DV 支援措置一覧",
                                      "--json").stdout)
    assert imported["entries"] == 4
    sent = json.loads(_send(source).stdout)
    assert sent["records"] == 57 and sent["removed"] == {"excluded:dv-evacuee": 3}

    # the numbers are nowhere in the home in clear: not in the database, the log, the list store
    for number in listed:
        assert files_holding(home, number.encode()) == [], number
    log = run_gateway("log", "--json").stdout
    assert not any(number in log for number in listed)
    # screening by the separate list is the designed step: logged with counts, not as a refusal
    [screened] = [e for e in json.loads(log) if e["action"] == "transfer.screen"]
    assert screened["outcome"] == "ok" and "dv-evacuee: 3" in screened["reason"]


def test_a_file_without_the_number_column_is_refused(home, tmp_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_FAKE_NOW", "2020-05-20T10:00:00+09:00")
    run_gateway("approval", "add", str(_approval(tmp_path)))
    run_gateway("user", "add", "sj.staff", "--org", "shinjuku", "--role", "staff", "--name", "職員")
    dv_list = tmp_path / "dv-list.csv"
    dv_list.write_text("01176140\n", encoding="utf-8")
    run_gateway("exclusion", "import", "dv-evacuee", "--key-field", "resident_number", "-i", str(dv_list),
                "--as", "sj.staff", "--paper-ref", "一覧")
    source = tmp_path / "no-number.csv"
    source.write_text("漢字氏名,住所\n試験　太郎,東京都新宿区\n", encoding="utf-8")
    proc = _send(source, check=False)
    assert proc.returncode == 1 and "resident_number" in proc.stderr


def test_every_node_screens_by_the_list_imported_through_any_of_them(home, tmp_path, monkeypatch):
    """Two nodes of one gateway (the second home copied from the first, as `gateway cluster up`
    and an installer copy it; one database): the list imported through one node is the list the
    other screens by, and a list imported again changes for both at once. Before, each node kept
    its own file, so a person added to the DV list through node A went out through node B."""
    monkeypatch.setenv("GATEWAY_FAKE_NOW", "2020-05-20T10:00:00+09:00")
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    run_gateway("approval", "add", str(_approval(tmp_path)))
    run_gateway("user", "add", "sj.staff", "--org", "shinjuku", "--role", "staff", "--name", "職員")
    node_b = tmp_path / "node-b"
    shutil.copytree(home, node_b, ignore=shutil.ignore_patterns("blobs", "work", "exports", "*.lock"))
    on_b = {"GATEWAY_HOME": str(node_b)}
    source = tmp_path / "export.csv"
    run_gateway("generate", "recipients", "--count", "40", "--schema", "shinjuku-2020", "--encoding", "utf-8",
                "--seed", "7", "-o", str(source))
    listed = [line.split(",")[0] for line in source.read_text(encoding="utf-8").splitlines()[1:]][5:8]

    def import_list(numbers, env=None):
        dv_list = tmp_path / "dv-list.csv"
        dv_list.write_text("".join(f"{n}\n" for n in numbers), encoding="utf-8")
        run_gateway("exclusion", "import", "dv-evacuee", "--key-field", "resident_number", "-i", str(dv_list),
                    "--as", "sj.staff", "--paper-ref", "DV 支援措置一覧", env=env)

    def removed(env=None):
        return json.loads(_send(source, env=env).stdout)["removed"].get("excluded:dv-evacuee", 0)

    import_list(listed[:2])  # through node A
    assert removed(env=on_b) == 2
    import_list(listed, env=on_b)  # one more person, through node B
    assert removed() == 3

    # A node holding another list key, or none, would match no one: refused, naming the file to copy.
    for name, key in (("node-c", os.urandom(32)), ("node-d", None)):
        node = tmp_path / name
        shutil.copytree(home, node, ignore=shutil.ignore_patterns("blobs", "work", "exports", "*.lock"))
        if key is None:
            (node / "keys" / "exclusion-list.key").unlink()
        else:
            (node / "keys" / "exclusion-list.key").write_bytes(key)
        refused = _send(source, check=False, env={"GATEWAY_HOME": str(node)})
        assert refused.returncode == 1 and "keys/exclusion-list.key" in refused.stderr, name
    sends = [e for e in json.loads(run_gateway("log", "--json").stdout) if e["action"] == "transfer.send"]
    assert [e["outcome"] for e in sends] == ["ok", "ok", "refused", "refused"]
