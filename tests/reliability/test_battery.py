"""The standing fault battery at a size that fits `make test`: every named fault point once, on
a 60-record file; `make fuzz` (scripts/fault-battery) runs it repeatedly on larger files and
prints the counts. Each case asserts the same judgement (battery.py): doctor clean or exact,
the log verifies, nothing plaintext left, a retry succeeds once, no data lost."""
from __future__ import annotations

import subprocess

import pytest

from tests.reliability import battery


def assert_whole(out: battery.Outcome) -> None:
    assert not out.lost, f"data lost: {out.lost}"
    assert not out.problems, "\n".join(out.problems)


# `make fuzz` runs every case of the battery (scripts/fault-battery, three rounds, both databases).
# Here, each kill point once: the hot folder's sends stop at the send's own points, already killed
# under `send`, and the key rotation's points are killed on both databases by
# tests/store/test_kek_rotation_crash.py.
ONCE_HERE = [c for c in battery.killed_cases()
             if not c[0].startswith(("hotfolder@send:", "sweep@kek-rotate:", "sweep@sweep:before-rotation"))]


@pytest.mark.parametrize("case", ONCE_HERE, ids=[c[0] for c in ONCE_HERE])
def test_killed_at_every_stage(tmp_path, case):
    _, run, args = case
    assert_whole(run(tmp_path, **args))


def test_an_sftp_download_cut_off_is_not_logged_as_complete(tmp_path):
    assert_whole(battery.sftp_download_interrupted(tmp_path))


def test_serve_clears_what_killed_processes_left(tmp_path):
    assert_whole(battery.serve_clears_leftovers(tmp_path))


def test_a_locked_database(tmp_path):
    assert_whole(battery.locked_database(tmp_path))


def test_a_damaged_database(tmp_path):
    assert_whole(battery.damaged_database(tmp_path))


def test_a_clock_set_back(tmp_path):
    assert_whole(battery.clock_set_back(tmp_path))


@pytest.fixture
def small_fs(tmp_path):
    mount = tmp_path / "fs"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk(tmp_path, small_fs):
    assert_whole(battery.disk_full(tmp_path, small_fs))


def test_a_read_only_home(tmp_path, small_fs):
    assert_whole(battery.read_only(tmp_path, small_fs))


@pytest.mark.postgres
def test_postgres_killed_and_restarted(tmp_path):
    from gateway.cluster import postgres as postgres_server

    server = postgres_server.start()
    try:
        assert_whole(battery.postgres_killed(tmp_path, server))
    finally:
        server.stop()
