"""The officers' SIEM feed (issue 22, item 3): `gateway log --follow --syslog` sends the access log
as RFC 5424 over TLS to a real rsyslog the test starts (imtcp with the gtls driver, its
certificate from the test's own CA), and resumes after a restart where it stopped."""
from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import BIN, run_gateway
from tests.service.pki import _free_port, _pki

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
pytestmark = pytest.mark.skipif(not Path(RSYSLOGD).exists(), reason="rsyslog not installed (make setup)")

# One line per message received: its header fields as rsyslog parsed them, then the message.
CONFIG = """
global(workDirectory="{work}" DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="{ca}"
       DefaultNetstreamDriverCertFile="{cert}" DefaultNetstreamDriverKeyFile="{key}")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
input(type="imtcp" address="127.0.0.1" port="{port}")
template(name="fields" type="string"
         string="%pri%|%protocol-version%|%hostname%|%app-name%|%msgid%|%structured-data%|%msg%\\n")
action(type="omfile" file="{out}" template="fields")
"""


@pytest.fixture
def rsyslog(tmp_path):
    cafile, _ = _pki(tmp_path)
    work = tmp_path / "rsyslog"
    work.mkdir()
    port, out = _free_port(), tmp_path / "received.log"
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(CONFIG.format(work=work, ca=cafile, cert=tmp_path / "mail.pem", key=tmp_path / "mail.key",
                                  port=port, out=out))
    proc = subprocess.Popen([RSYSLOGD, "-n", "-f", str(conf), "-i", str(tmp_path / "rsyslog.pid")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0] if proc.poll() else "slow"
            time.sleep(0.2)
    yield port, cafile, out
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)


def received(out: Path, n: int, timeout: float = 30.0) -> list[list[str]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = out.read_text(encoding="utf-8").splitlines() if out.exists() else []
        if len(lines) >= n:
            return [line.split("|", 6) for line in lines]
        time.sleep(0.2)
    raise AssertionError(f"rsyslog received {len(lines)} of {n}")


def test_the_access_log_reaches_rsyslog_as_rfc5424_over_tls_and_resumes(kurume, home, tmp_path, rsyslog):
    port, cafile, out = rsyslog
    state = tmp_path / "siem.state"
    run_gateway("fetch", "NO-SUCH", "-o", str(tmp_path / "x.age"), "--as", "x.outsider", "--paper-ref", "書面 1", check=False)  # a refusal
    entries = json.loads(run_gateway("log", "--json").stdout)
    args = ["log", "--follow", "--tail", "1000", "--poll", "0.2", "--syslog", f"localhost:{port}",
            "--syslog-ca", str(cafile), "--syslog-state", str(state)]
    follow = subprocess.Popen([str(BIN / "gateway"), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = received(out, len(entries))
        run_gateway("user", "add", "n.new", "--org", "kurume", "--role", "staff", "--name", "新人")
        lines = received(out, len(entries) + 1)
    finally:
        follow.send_signal(signal.SIGTERM)
        _, err = follow.communicate(timeout=30)
    assert follow.returncode == 0 and "Traceback" not in err
    pri, version, _host, app, msgid, sd, msg = lines[-1]
    assert (version, app, msgid) == ("1", "gateway", "user.add") and pri == str(13 * 8 + 6)
    entry = json.loads(msg.lstrip("\ufeff"))
    assert entry["action"] == "user.add" and f'seq="{entry["seq"]}"' in sd and 'outcome="ok"' in sd
    refused = [fields for fields in lines if 'outcome="refused"' in fields[5]]
    assert refused and refused[0][0] == str(13 * 8 + 4)  # warning
    assert [json.loads(f[6].lstrip("\ufeff"))["seq"] for f in lines] == [e["seq"] for e in entries] + [entry["seq"]]
    assert state.read_text().strip() == str(entry["seq"])

    # Restarted, it sends only what came after the state: nothing twice, nothing lost.
    run_gateway("user", "add", "n.newer", "--org", "kurume", "--role", "staff", "--name", "新人二")
    again = subprocess.run([str(BIN / "gateway"), *[a for a in args if a != "--follow"]], capture_output=True,
                           text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    lines = received(out, len(entries) + 2)
    assert len(lines) == len(entries) + 2 and re.search(r"n\.newer", lines[-1][6])
