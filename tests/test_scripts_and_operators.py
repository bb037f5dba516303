"""Scripts and operators (issue 22, item 5): `--json` on every command that reports something,
`gateway log` newest first with --tail, --follow and JSON Lines, and a passphrase prompt that
does not echo for `package decrypt`."""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess

import pexpect

from tests.conftest import BIN, run_gateway
from tests.helpers import send
from tests.sftp.conftest import keypair
from tests.test_operator_mistakes import assert_told


def js(*args: str) -> object:
    return json.loads(run_gateway(*args, "--json").stdout)


def test_every_reporting_command_speaks_json(kurume, home, tmp_path):
    sent = json.loads(send(kurume, tmp_path).stdout)
    assert js("user", "add", "z.zeta", "--org", "kurume", "--role", "staff", "--name", "是田") == {
        "login": "z.zeta", "org": "kurume", "role": "staff", "name": "是田", "directory": False}
    users = js("user", "list")
    assert {"login": "z.zeta", "role": "staff", "org": "kurume", "name": "是田", "state": "active",
            "directory": False} in users
    key = keypair(tmp_path, "tanaka")
    added = js("user", "add-key", "k.tanaka", f"{key}.pub")
    assert added["login"] == "k.tanaka" and added["fingerprint"].startswith("SHA256:")
    issued = js("user", "issue-password", "s.staff")
    assert issued["login"] == "s.staff" and len(issued["initial_password"]) >= 12
    issued_terminal = js("terminal", "issue", "s.staff", "-o", str(tmp_path / "terminal"))
    assert js("terminal", "revoke", "s.staff")["revoked"] == [issued_terminal["serial"]]
    keys = js("keys", "show")
    assert list(keys["evidence_keys"]) == [keys["current"]] == [keys["genesis"]] and keys["origin"]
    assert js("org", "push-key")["push_key"].startswith("ssh-ed25519 ")
    dispatched = js("notice", "dispatch", sent["transfer"], "--method", "registered-mail", "--tracking", "77",
                    "--as", "s.staff", "--paper-ref", "書面 1")
    assert dispatched["transfer"] == sent["transfer"] and dispatched["tracking"] == "77" and dispatched["notice"]
    folder = tmp_path / "hot"
    folder.mkdir()
    assert js("hotfolder", "register", str(folder), "--owner", "s.staff") == {"directory": str(folder.resolve()),
                                                                             "owner": "s.staff"}
    made = js("generate", "recipients", "--count", "5", "-o", str(tmp_path / "five.csv"))
    assert made["rows"] == 5 and len(made["sha256"]) == 64
    (tmp_path / "pass").write_text(sent["passphrase"])
    plain = tmp_path / "plain.csv"
    encrypted = js("package", "encrypt", str(tmp_path / "five.csv"), "-o", str(tmp_path / "five.age"),
                   "--passphrase-file", str(tmp_path / "pass"))
    decrypted = js("package", "decrypt", str(tmp_path / "five.age"), "-o", str(plain), "--passphrase-file",
                   str(tmp_path / "pass"))
    assert decrypted == {"output": str(plain), "sha256": encrypted["sha256"], "bytes": encrypted["bytes"], "records": 5}


def test_log_newest_first_tail_and_jsonl(kurume, home):
    for i in range(3):
        run_gateway("user", "add", f"u.{i}", "--org", "kurume", "--role", "staff", "--name", f"職員{i}")
    table = run_gateway("log", "--action", "user.add").stdout.splitlines()
    seqs = [int(line.split()[0]) for line in table]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == 5  # s.staff, x.outsider, u.0-2: newest first
    tail = [json.loads(line) for line in run_gateway("log", "--action", "user.add", "--tail", "2", "--jsonl").stdout.splitlines()]
    assert [e["seq"] for e in tail] == sorted(seqs)[-2:]  # the newest two, oldest of them first
    assert "u.2" in json.dumps(tail[-1], ensure_ascii=False)
    array = js("log", "--action", "user.add")
    assert [e["seq"] for e in array] == sorted(seqs)  # --json keeps the log order
    assert_told(run_gateway("log", "--follow", "--json", check=False), "--jsonl")


def test_log_follow_streams_new_entries_as_json_lines(kurume, home):
    follow = subprocess.Popen([str(BIN / "gateway"), "log", "--follow", "--jsonl", "--tail", "1", "--poll", "0.1",
                               "--action", "user."], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([follow.stdout], [], [], 30)
        assert ready and "x.outsider" in follow.stdout.readline()  # the newest entry first: it is following now
        run_gateway("user", "add", "n.new", "--org", "kurume", "--role", "staff", "--name", "新人")
        ready, _, _ = select.select([follow.stdout], [], [], 30)
        assert ready, "no entry within 30 s"
        entry = json.loads(follow.stdout.readline())
        assert entry["action"] == "user.add" and entry["outcome"] == "ok" and "n.new" in entry["reason"]
    finally:
        follow.send_signal(signal.SIGTERM)
        _, err = follow.communicate(timeout=30)
    assert follow.returncode == 0 and "Traceback" not in err


def test_package_decrypt_asks_for_the_passphrase_without_echo(kurume, home, tmp_path):
    sent = json.loads(send(kurume, tmp_path).stdout)
    package = tmp_path / "p.age"  # a package under a generated passphrase, as the gateway makes them
    run_gateway("generate", "recipients", "--count", "3", "-o", str(tmp_path / "three.csv"))
    (tmp_path / "pass").write_text(sent["passphrase"])
    run_gateway("package", "encrypt", str(tmp_path / "three.csv"), "-o", str(package), "--passphrase-file",
                str(tmp_path / "pass"))
    child = pexpect.spawn(str(BIN / "gateway"), ["package", "decrypt", str(package), "-o", str(tmp_path / "out.csv")],
                          encoding="utf-8", timeout=60, env=dict(os.environ))
    child.expect("passphrase")
    assert child.waitnoecho(timeout=10)  # the terminal's echo is off while it is typed
    typed = sent["passphrase"].replace("-", " ").lower()  # as a contractor may type it from the notice
    child.sendline(typed)
    child.expect(pexpect.EOF)
    transcript = child.before
    child.close()
    assert child.exitstatus == 0, transcript
    assert "records: 3" in transcript and typed not in transcript and sent["passphrase"] not in transcript
    # Without a terminal, a script is told to give a file instead of hanging on a prompt.
    proc = run_gateway("package", "decrypt", str(package), "-o", str(tmp_path / "again.csv"), check=False,
                       stdin=subprocess.DEVNULL)
    assert_told(proc, "--passphrase-file")
