"""Media images: ISO 9660 discs split over several pieces when the package is larger, HDD trees."""
from __future__ import annotations

import hashlib
import io
import json

import pycdlib

from gateway.channels.courier.media import CAPACITY, RESERVE, SECTOR, plan
from tests.courier.conftest import handover


def test_plan_respects_the_capacity_of_a_disc():
    assert plan(10, "cdr") == [(0, 10)]
    room = CAPACITY["cdr"] - RESERVE
    assert plan(room + 1, "cdr") == [(0, room), (room, 1)]
    assert len(plan(5 * 10**9, "dvd")) == 2 and plan(5 * 10**9, "hdd") == [(0, 5 * 10**9)]
    assert CAPACITY["cdr"] == 737_280_000 and CAPACITY["dvd"] == 4_707_319_808


def test_a_larger_package_is_split_over_numbered_discs(cli, shinjuku, tmp_path):
    capacity = RESERVE + SECTOR  # 2 KiB of package per disc: a 40-record package needs a few
    cli.at("2020-06-01T09:10:00")
    written = cli.json("courier", "write", shinjuku.transfer, "--media", "cdr", "--serial", "SPLIT-1", "-o",
                       str(tmp_path / "m"), "--capacity", str(capacity), "--as", "w.kato", "--paper-ref", "書面 1")
    n = written["pieces"]
    assert n >= 2 and len(written["paths"]) == n
    joined, labels = b"", []
    for number, path in enumerate(written["paths"], 1):
        assert path.endswith(f"SPLIT-1-{number}of{n}.iso")
        data = open(path, "rb").read()
        assert len(data) <= capacity and len(data) % SECTOR == 0
        iso = pycdlib.PyCdlib()
        iso.open_fp(io.BytesIO(data))
        label, part = io.BytesIO(), io.BytesIO()
        iso.get_file_from_iso_fp(label, iso_path="/LABEL.JSON;1")
        iso.get_file_from_iso_fp(part, joliet_path=f"/PART{number:02d}.AGE")
        iso.close()
        labels.append(json.loads(label.getvalue()))
        joined += part.getvalue()
    assert [lbl["piece"] for lbl in labels] == [f"{i}/{n}" for i in range(1, n + 1)]
    assert hashlib.sha256(joined).hexdigest() == written["package_sha256"] == labels[0]["package_sha256"]
    assert joined.startswith(b"age-encryption.org/v1")
    # `courier extract` joins and checks the set; an incomplete set is refused.
    cli("courier", "extract", *reversed(written["paths"]), "-o", str(tmp_path / "joined.age"))
    assert (tmp_path / "joined.age").read_bytes() == joined
    proc = cli("courier", "extract", *written["paths"][:-1], "-o", str(tmp_path / "short.age"), check=False)
    assert proc.returncode == 1 and "そろっていません" in proc.stderr and not (tmp_path / "short.age").exists()
    # The set is one item of n pieces: its hand-over must say so.
    cli.at("2020-06-01T14:00:00")
    assert handover(cli, "SPLIT-1", "r.shimizu", "w.kato", "金庫", check=False).returncode == 1
    handover(cli, "SPLIT-1", "r.shimizu", "w.kato", "金庫", quantity=n)


def test_write_only_the_profiles_media_valid_serials_by_the_sender(cli, shinjuku, tmp_path):
    cli.at("2020-06-01T09:10:00")
    proc = cli("courier", "write", shinjuku.transfer, "--media", "hdd", "--serial", "HDD-1", "-o", str(tmp_path / "m"),
               "--as", "w.kato", "--paper-ref", "書面 1", check=False)
    assert proc.returncode == 1 and "[unapproved-channel]" in proc.stderr  # courier-cdr: CD-R/DVD-R only
    assert not (tmp_path / "m" / "HDD-1").exists()
    proc = cli("courier", "write", shinjuku.transfer, "--media", "cdr", "--serial", "bad serial!", "-o",
               str(tmp_path / "m"), "--as", "w.kato", "--paper-ref", "書面 1", check=False)
    assert proc.returncode == 1 and "シリアル" in proc.stderr
    proc = cli("courier", "write", shinjuku.transfer, "--media", "cdr", "--serial", "OK-1", "-o", str(tmp_path / "m"),
               "--as", "r.shimizu", "--paper-ref", "書面 1", check=False)
    assert proc.returncode == 1  # the printer cannot write the ward's media
    refused = [e for e in cli.json("log", "--outcome", "refused") if e["action"] == "courier.write"]
    assert len(refused) == 3 and refused[0]["kinds"] == ["unapproved-channel"]


def test_hdd_is_a_directory_tree(tmp_path):
    media = "hdd"
    from gateway.channels.courier.media import Part, _write_tree, extract, label, label_text

    package = b"age-encryption.org/v1\n" + bytes(range(256)) * 10
    part = Part(1, 1, 0, len(package), hashlib.sha256(package).hexdigest())
    lbl = label({"format": "gateway-media-label/1", "serial": "HDD-1", "media": media, "transfer": "T1",
                 "approval": "a", "approval_case_number": "c", "record_count": 3,
                 "package_sha256": part.sha256, "package_size": len(package), "written_at": "x",
                 "written_at_jst": "y"}, part)
    tree = _write_tree(io.BytesIO(package), part, label_text(lbl).encode(), json.dumps(lbl).encode(),
                       tmp_path / "HDD-1")
    assert sorted(p.name for p in tree.iterdir()) == ["LABEL.JSON", "LABEL.TXT", "PACKAGE.AGE"]
    extract([tree], tmp_path / "out.age")
    assert (tmp_path / "out.age").read_bytes() == package
