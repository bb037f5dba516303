"""`audit witness serve`, a real process on 127.0.0.1, driven over HTTP as a log would drive it."""
from __future__ import annotations

import http.client
import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.note import NoteError, NoteSignature, VerifierKey, generate_key, open_note, parse
from audit.tlog import consistency_proof, tree_hash, verify_consistency
from tests.audit.witness_process import Log, Reply, WitnessProcess, add_checkpoint, keygen, run_audit_blocked


@pytest.fixture
def log() -> Log:
    return Log().grow(5)


@pytest.fixture
def witness_key(tmp_path: Path) -> tuple[Path, VerifierKey]:
    return keygen(tmp_path)


@pytest.fixture
def witness(tmp_path: Path, witness_key: tuple[Path, VerifierKey], log: Log) -> Iterator[WitnessProcess]:
    w = WitnessProcess.start(witness_key[0], tmp_path / "state", [log.signer.verifier], tmp_path / "witness.err")
    yield w
    w.stop()


def cosigned(log: Log, reply: Reply, witness: VerifierKey, size: int) -> int:
    """The reply is a valid cosignature of the log's checkpoint of `size`; returns its time."""
    assert reply.status == 200, reply.body.decode()
    assert reply.body.startswith("— ".encode()) and reply.body.endswith(b"\n")
    _, verified = open_note(log.note(size) + reply.body, [witness])
    assert len(verified) == 1 and verified[0].timestamp is not None
    return verified[0].timestamp


def refused(reply: Reply, status: int, *words: str) -> None:
    assert reply.status == status, reply.body.decode()
    text = reply.body.decode()
    assert "— " not in text  # no cosignature leaks with a refusal
    for word in words:
        assert word in text


def test_accepts_consistent_checkpoints_with_real_time_cosignatures(witness: WitnessProcess, log: Log) -> None:
    conn = witness.connect()  # one keep-alive connection for every request, as the spec advises
    before = int(time.time())
    t1 = cosigned(log, add_checkpoint(conn, log.request(old=0)), witness.vkey, 5)
    log.grow(7)
    t2 = cosigned(log, add_checkpoint(conn, log.request(old=5)), witness.vkey, 12)
    assert before <= t1 <= t2 <= int(time.time())
    # The same head again is cosigned again (a log that lost the first answer retries).
    cosigned(log, add_checkpoint(conn, log.request(old=12)), witness.vkey, 12)
    conn.close()


def test_refuses_a_fork_of_the_same_size(witness: WitnessProcess, log: Log, tmp_path: Path) -> None:
    conn = witness.connect()
    cosigned(log, add_checkpoint(conn, log.request(old=0)), witness.vkey, 5)
    other = log.fork(3).grow(2, b"rewritten")
    assert tree_hash(other.leaves) != tree_hash(log.leaves)
    refused(add_checkpoint(conn, other.request(old=5, proof=[])), 409, "fork")
    # The fork is kept as evidence: the log signed two heads of one size.
    kept = list((tmp_path / "state" / "refused").iterdir())
    assert len(kept) == 1 and other.note() in kept[0].read_bytes()
    # A fork that grew further cannot prove consistency with what was cosigned.
    other.grow(4, b"more")
    refused(add_checkpoint(conn, other.request(old=5)), 422, "consistency proof")


def test_refuses_a_rollback(witness: WitnessProcess, log: Log) -> None:
    conn = witness.connect()
    cosigned(log, add_checkpoint(conn, log.request(old=0)), witness.vkey, 5)
    log.grow(7)
    cosigned(log, add_checkpoint(conn, log.request(old=5)), witness.vkey, 12)
    refused(add_checkpoint(conn, log.request(old=12, size=5, proof=[])), 400, "old size 12 is larger")
    reply = add_checkpoint(conn, log.request(old=5, size=5, proof=[]))
    assert (reply.status, reply.content_type, reply.body) == (409, "text/x.tlog.size", b"12\n")
    reply = add_checkpoint(conn, log.request(old=0, size=8))
    assert (reply.status, reply.body) == (409, b"12\n")


def test_refuses_a_bad_consistency_proof(witness: WitnessProcess, log: Log) -> None:
    conn = witness.connect()
    cosigned(log, add_checkpoint(conn, log.request(old=0)), witness.vkey, 5)
    log.grow(6)
    good = log.request(old=5)
    lines = good.split(b"\n")
    broken = bytearray(lines[1])
    broken[0] = ord("A") if broken[0] != ord("A") else ord("B")
    refused(add_checkpoint(conn, b"\n".join([lines[0], bytes(broken), *lines[2:]])), 422, "consistency proof")
    refused(add_checkpoint(conn, log.request(old=5, proof=[])), 422)
    cosigned(log, add_checkpoint(conn, good), witness.vkey, 11)  # the refusals changed nothing


def test_refuses_a_wrong_log_key_an_unknown_origin_and_malformed_bodies(witness: WitnessProcess, log: Log) -> None:
    conn = witness.connect()
    impostor = generate_key(log.origin)  # same name, a fresh key: what an attacker holding the box has
    refused(add_checkpoint(conn, log.request(old=0, signer=impostor)), 403, "no signature by a key configured")
    stranger = Log(origin="other.example/log", signer=generate_key("other.example/log")).grow(3)
    refused(add_checkpoint(conn, stranger.request(old=0)), 404, "unknown log origin")
    good = log.request(old=0)
    sig = parse(log.note()).signatures[0]
    flipped = NoteSignature(sig.name, sig.key_id, bytes([sig.signature[0] ^ 1]) + sig.signature[1:])
    corrupt = good.replace(sig.line().encode(), flipped.line().encode())
    refused(add_checkpoint(conn, corrupt), 403, "invalid signature")
    refused(add_checkpoint(conn, b"old 01\n\n" + log.note()), 400, "old <size>")
    refused(add_checkpoint(conn, b"old 0\n" + log.note()), 400)
    refused(add_checkpoint(conn, b"old 0\n\n" + log.note().replace(b"\n\n", b"\n")), 400)
    cosigned(log, add_checkpoint(conn, log.request(old=0)), witness.vkey, 5)


def test_http_edges_never_cosign(witness: WitnessProcess, log: Log) -> None:
    conn = witness.connect()
    conn.request("GET", "/add-checkpoint")
    resp = conn.getresponse()
    assert resp.status == 405 and b"POST" in resp.read()
    conn.request("POST", "/elsewhere", body=log.request(old=0))
    resp = conn.getresponse()
    assert resp.status == 404 and resp.read()
    conn.close()
    raw = http.client.HTTPConnection(witness.host, witness.port, timeout=10)
    raw.putrequest("POST", "/add-checkpoint")
    raw.putheader("Content-Length", str(10 << 20))
    raw.endheaders()
    assert raw.getresponse().status == 413
    raw.close()


def test_only_one_of_racing_submissions_from_the_same_size_wins(witness: WitnessProcess, log: Log) -> None:
    """tlog-witness's race: checking the old size and storing the new head are one step."""
    conn = witness.connect()
    cosigned(log, add_checkpoint(conn, log.request(old=0)), witness.vkey, 5)
    log.grow(20)
    bodies = [log.request(old=5, size=6 + i) for i in range(8)]
    replies: list[Reply] = [Reply(0, "", b"")] * len(bodies)
    gate = threading.Barrier(len(bodies))

    def submit(i: int) -> None:
        c = witness.connect()
        gate.wait()
        replies[i] = add_checkpoint(c, bodies[i])
        c.close()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for i, r in enumerate(replies) if r.status == 200]
    assert len(winners) == 1, [r.status for r in replies]
    size = 6 + winners[0]
    assert all(r.status == 409 and r.body == f"{size}\n".encode() for i, r in enumerate(replies) if i != winners[0])


def test_sigkill_between_persisting_and_answering_never_forks(tmp_path: Path, witness_key: tuple[Path, VerifierKey],
                                                              log: Log) -> None:
    key, vkey = witness_key
    state = tmp_path / "state"
    dying = WitnessProcess.start(key, state, [log.signer.verifier], tmp_path / "w1.err", fault="kill-after-persist")
    conn = dying.connect()
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        add_checkpoint(conn, log.request(old=0))
    assert dying.proc.wait(10) == -9  # SIGKILL, at the fault point, before any answer
    dying.stop()

    # Restarted on the same state, it remembers the head it never got to answer for.
    heads = list((state / "logs").glob("*.json"))
    assert len(heads) == 1 and json.loads(heads[0].read_text())["size"] == 5
    w = WitnessProcess.start(key, state, [log.signer.verifier], tmp_path / "w2.err")
    try:
        conn = w.connect()
        fork = log.fork(2).grow(3, b"rewritten")
        reply = add_checkpoint(conn, fork.request(old=0))
        assert (reply.status, reply.body) == (409, b"5\n")  # not size 0: it did not forget
        refused(add_checkpoint(conn, fork.request(old=5, proof=[])), 409, "fork")
        t = cosigned(log, add_checkpoint(conn, log.request(old=5)), vkey, 5)  # the log's retry succeeds
        log.grow(4)
        assert cosigned(log, add_checkpoint(conn, log.request(old=5)), vkey, 9) >= t
        fork.grow(6)
        refused(add_checkpoint(conn, fork.request(old=9)), 422)
    finally:
        w.stop()
    # Every head it cosigned is consistent with the next: 5 then 9 of one history.
    verify_consistency(5, 9, tree_hash(log.leaves[:5]), tree_hash(log.leaves[:9]), consistency_proof(log.leaves[:9], 5))


def test_state_survives_a_clean_restart_and_is_held_by_one_process(tmp_path: Path,
                                                                   witness_key: tuple[Path, VerifierKey],
                                                                   log: Log) -> None:
    key, vkey = witness_key
    state = tmp_path / "state"
    w = WitnessProcess.start(key, state, [log.signer.verifier], tmp_path / "w.err")
    try:
        cosigned(log, add_checkpoint(w.connect(), log.request(old=0)), vkey, 5)
        second = run_audit_blocked("witness", "serve", "--listen", "127.0.0.1:0", "--key", str(key),
                                   "--state", str(state), "--log", str(log.signer.verifier))
        assert second.returncode == 1 and "another witness" in second.stderr
    finally:
        w.stop()
    assert w.proc.returncode == 0  # SIGTERM is a clean stop
    w = WitnessProcess.start(key, state, [log.signer.verifier], tmp_path / "w.err")
    try:
        reply = add_checkpoint(w.connect(), log.request(old=0))
        assert (reply.status, reply.body) == (409, b"5\n")
    finally:
        w.stop()
    for path in [state, state / "logs", *(state / "logs").iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_one_witness_serves_several_logs_and_a_rotated_key(tmp_path: Path, witness_key: tuple[Path, VerifierKey],
                                                           log: Log) -> None:
    key, vkey = witness_key
    rotated = generate_key(log.origin)
    other = Log(origin="fukuoka.example.jp/gateway", signer=generate_key("fukuoka.example.jp/gateway")).grow(2)
    w = WitnessProcess.start(key, tmp_path / "state", [log.signer.verifier, rotated.verifier, other.signer.verifier],
                             tmp_path / "w.err")
    try:
        conn = w.connect()
        cosigned(log, add_checkpoint(conn, log.request(old=0)), vkey, 5)
        cosigned(other, add_checkpoint(conn, other.request(old=0)), vkey, 2)
        log.grow(3)
        reply = add_checkpoint(conn, log.request(old=5, signer=rotated))
        assert reply.status == 200
        open_note(log.note(8, rotated) + reply.body, [vkey])
    finally:
        w.stop()
    assert len(list((tmp_path / "state" / "logs").glob("*.json"))) == 2


def test_keygen_writes_a_private_file_once_and_serve_refuses_a_readable_key(tmp_path: Path, log: Log) -> None:
    path, vkey = keygen(tmp_path, "secretariat.example/w")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("PRIVATE+KEY+secretariat.example/w+")
    assert vkey.name == "secretariat.example/w" and vkey.type == 0x04
    again = run_audit_blocked("witness", "keygen", "--name", "x", "-o", str(path))
    assert again.returncode == 1 and "already exists" in again.stderr
    os.chmod(path, 0o644)
    proc = run_audit_blocked("witness", "serve", "--listen", "127.0.0.1:0", "--key", str(path),
                             "--state", str(tmp_path / "s"), "--log", str(log.signer.verifier))
    assert proc.returncode == 1 and "chmod 600" in proc.stderr and "PRIVATE" not in proc.stderr
    bad_log = run_audit_blocked("witness", "serve", "--listen", "127.0.0.1:0", "--key", str(path),
                                "--state", str(tmp_path / "s"), "--log", str(vkey))
    assert bad_log.returncode == 2 and "type 0x01" in bad_log.stderr


def test_the_spec_example_request_is_parsed(tmp_path: Path) -> None:
    """tlog-witness.md's example body: four proof lines, a checkpoint with two signatures."""
    from audit.witness.request import parse as parse_request

    body = ("old 20852014\n"
            "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
            "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
            "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
            "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
            "\n"
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
            "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
            "— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n"
            ).encode()
    req = parse_request(body)
    assert req.old_size == 20852014 and len(req.proof) == 4
    assert len(parse(req.note).signatures) == 2
    with pytest.raises(NoteError):
        parse(req.note + b"garbage")
