"""Steps many tests take: a send under the Kurume approval, a contractor's erasure certificate,
a sweep at a given time. Fixtures live in conftest.py; these are plain functions."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from typing import Any, Callable
from pathlib import Path

from tests.conftest import move_clock, run_gateway


def send(source: Path, tmp_path: Path, *extra: str, check: bool = True, profile: str | None = None):
    """Send `source` under the Kurume approval. Without a profile, as Kurume did: the first hand-over
    over the VPN line (for the set-up only: `first_transfer_only`), later ones over LGWAN-ASP."""
    if profile is None:
        earlier = json.loads(run_gateway("log", "--json", "--approval", "kurume-2020-teigaku", "--action", "transfer.send",
                                         "--outcome", "ok", "--limit", "1").stdout)
        profile = "lgwan-asp" if earlier else "vpn-sftp"
    return run_gateway("send", str(source), "--approval", "kurume-2020-teigaku", "--recipient", "chikugo-print",
                       "--profile", profile, "--password-delivery", "registered-mail", "--as", "s.staff", "--paper-ref", "書面 1",
                       "--json", *extra, check=check)


def sweep_at(at: datetime) -> dict:
    move_clock(at)
    return json.loads(run_gateway("retention", "sweep", "--now", at.isoformat(), "--json").stdout)


def certify(deletion_id: str, login: str = "k.tanaka", check: bool = True, erased_at: str = "2020-09-11T15:00:00+09:00"):
    return run_gateway(
        "deletion", "certify", deletion_id, "--erased-at", erased_at,
        "--media-manufacturer", "テスト電機", "--media-model", "SSD-1TB", "--media-serial", "SN-0001",
        "--sanitisation", "purge", "--technique", "暗号消去（ATA Sanitize）", "--tool", "hdparm 9.65",
        "--verification", "全領域の読み出しでゼロを確認", "--sanitised-by", "田中 一郎,取扱責任者",
        "--verified-by", "森 美咲,情報管理者", "--place", "久留米工場", "--as", login, "--paper-ref", "書面 1", check=check)


# Run in a process of its own: this process may host a server whose SQLite connections hold POSIX
# locks on the home's database, and opening and closing any of those files here would drop them
# ("How To Corrupt An SQLite Database File", 2.2); the next `gateway` command to close would then
# delete the WAL under the server, and the server's later entries would be lost.
_SCAN = """
import json, pathlib, sys
home, needle, found = pathlib.Path(sys.argv[1]), bytes.fromhex(sys.argv[2]), []
for path in home.rglob("*"):
    if path.is_file() and not path.is_symlink():
        try:
            if needle in path.read_bytes():
                found.append(str(path.relative_to(home)))
        except FileNotFoundError:  # a temporary file, gone while we looked
            continue
print(json.dumps(found))
"""


def files_holding(home: Path, needle: bytes) -> list[str]:
    """The files under `home` that hold `needle` (relative paths), read by another process."""
    proc = subprocess.run([sys.executable, "-c", _SCAN, str(home), needle.hex()], capture_output=True, text=True,
                          check=True)
    return json.loads(proc.stdout)


def import_dv_list(run: Callable[..., Any], folder: Path, *, login: str = "sj.staff") -> None:
    """Shinjuku screens every send against the ward's own DV list (`list_key`, issue 21): a send
    under the shipped approval is refused until a list is imported. Tests that are not about the
    list import one that names nobody in their files."""
    listing = folder / "dv-list.csv"
    listing.write_text("住民番号\n99999999\n", encoding="utf-8")
    run("exclusion", "import", "dv-evacuee", "--key-field", "resident_number", "-i", str(listing),
        "--as", login, "--paper-ref", "DV 支援措置一覧（試験）")
