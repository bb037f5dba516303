"""`courier write`: the encrypted package onto media (CD-R/DVD-R images, or an HDD directory tree).

What goes on the media is the age package exactly as sent (ciphertext; the passphrase travels on
the password notice, on another day), and a label with no personal data: serial, piece "1/3",
transfer, approval case number, record count and SHA-256 of the package. A package larger than
one disc is split into numbered parts over several discs; `extract` checks and joins them again.

CD-R/DVD-R images are ISO 9660 (interchange level 3, with Joliet names) written with pycdlib, so
any operating system reads them without the gateway. Writing is logged, and the media set is
registered as an item held by the person who wrote it: its custody chain starts there.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import secrets
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

import pycdlib

from gateway.channels.courier.custody import CHANNEL, MEDIA_LABELS, SERIAL, bad, may_touch
from gateway.clock import timestamp, to_jst
from gateway.core.transfers import refuse_if_held
from gateway.errors import Conflict, Invalid, NotFound, Refused
from gateway.findings import Kind
from gateway.fsutil import fsync_dir
from gateway.operations.accounts import Caller
from gateway.operations.attempt import Attempt, attempt
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.models_courier import CourierItem
from gateway.store.registry import get_approval, get_profile

SECTOR = 2048
# Nominal capacities: a 700 MB CD-R holds 360,000 sectors, a 4.7 GB DVD-R 2,298,496.
CAPACITY = {"cdr": 360_000 * SECTOR, "dvd": 2_298_496 * SECTOR}
# Room for the ISO 9660 and Joliet structures (system area, descriptors, path tables,
# directories) and the label files: about 30 sectors are used; 64 leaves a margin.
RESERVE = 64 * SECTOR
LABEL_TXT, LABEL_JSON = "LABEL.TXT", "LABEL.JSON"


@dataclass(frozen=True)
class Part:
    number: int
    of: int
    offset: int
    length: int
    sha256: str


@dataclass(frozen=True)
class Written:
    serial: str
    media: str
    transfer: str
    paths: tuple[Path, ...]
    parts: tuple[Part, ...]
    package_sha256: str
    package_size: int


def plan(size: int, media: str, capacity: int | None = None) -> list[tuple[int, int]]:
    """(offset, length) of each part. An HDD holds any size; a disc holds its capacity less the
    file-system reserve, in whole sectors."""
    if media == "hdd":
        return [(0, size)]
    room = ((capacity or CAPACITY[media]) - RESERVE) // SECTOR * SECTOR
    if room < SECTOR:
        raise Invalid("媒体の容量が小さすぎます。", f"the capacity leaves no room for data (at least {RESERVE + SECTOR} bytes).")
    if size == 0:
        return [(0, 0)]
    return [(off, min(room, size - off)) for off in range(0, size, room)]


class _Window(io.RawIOBase):
    """A read-only view of `length` bytes of `f` from `start`: one part, without copying it out."""

    def __init__(self, f: BinaryIO, start: int, length: int) -> None:
        self._f, self._start, self._length, self._pos = f, start, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._length}[whence]
        self._pos = max(0, min(self._length, base + pos))
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        n = self._length - self._pos if n is None or n < 0 else min(n, self._length - self._pos)
        self._f.seek(self._start + self._pos)
        data = self._f.read(n)
        self._pos += len(data)
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)


def label(base: dict[str, Any], part: Part) -> dict[str, Any]:
    return {**base, "piece": f"{part.number}/{part.of}", "part": {
        "number": part.number, "of": part.of, "offset": part.offset, "size": part.length, "sha256": part.sha256,
        "file": part_name(part)}}


def part_name(part: Part) -> str:
    return "PACKAGE.AGE" if part.of == 1 else f"PART{part.number:02d}.AGE"


def label_text(lbl: dict[str, Any]) -> str:
    """For the person holding the disc. No personal data: counts and hashes only."""
    return "\n".join([
        "暗号化データ媒体ラベル / encrypted media label",
        f"シリアル番号 / serial: {lbl['serial']}    {lbl['piece']}",
        f"媒体 / media: {MEDIA_LABELS.get(lbl['media'], lbl['media'])}",
        f"受け渡し / transfer: {lbl['transfer']}",
        f"承認 / approval: {lbl['approval_case_number']}（{lbl['approval']}）",
        f"件数 / records: {lbl['record_count']}",
        f"パッケージ SHA-256 / package SHA-256: {lbl['package_sha256']}",
        f"パッケージサイズ / package size: {lbl['package_size']} bytes",
        f"この媒体の部分 / this part: {lbl['part']['file']} {lbl['part']['size']} bytes SHA-256 {lbl['part']['sha256']}",
        f"作成 / written: {lbl['written_at_jst']}",
        "復号にはパスワード通知書（別の日に手渡し）が必要です。/ The password notice (handed over on another day)"
        " is needed to decrypt.",
        "",
    ])


def write_media(gw: Gateway, caller: Caller, transfer_id: str, *, media: str, serial: str, out_dir: Path,
                capacity: int | None = None, cabinet: str | None = None) -> Written:
    with attempt(gw, caller, "courier.write", channel=CHANNEL) as a:
        return _write_media(a, transfer_id, media=media, serial=serial, out_dir=out_dir, capacity=capacity,
                            cabinet=cabinet)


def _write_media(a: Attempt, transfer_id: str, *, media: str, serial: str, out_dir: Path, capacity: int | None,
                 cabinet: str | None) -> Written:
    gw, user = a.gw, a.user
    with gw.read() as session:
        transfer, base = _allowed(a, session, transfer_id, media, serial, gw.clock.now())
    out_dir.mkdir(parents=True, exist_ok=True)
    work = gw.home.root / "work"
    work.mkdir(mode=0o700, exist_ok=True)
    # Ciphertext only, but still removed at once; the pid lets a later send clear a killed run's copy.
    package = work / f"{os.getpid()}.{secrets.token_hex(8)}.age"
    blobs = gw.blobs()
    paths: list[Path] = []
    try:
        with gw.read() as session:
            key = blobs.data_key(session, transfer.package_blob_id)
        with package.open("wb") as f:
            blobs.copy_out(transfer.package_blob_id, key, f)
        size = package.stat().st_size
        parts = _parts(package, plan(size, media, capacity))
        base = {**base, "package_size": size}
        with package.open("rb") as pkg:
            for part in parts:
                paths.append(_write_one(pkg, part, label(base, part), media, serial, out_dir))
        with gw.unit() as session:
            if session.get(CourierItem, serial) is not None:
                raise Conflict(f"シリアル番号「{serial}」は既に使われています。",
                                   f"serial '{serial}' is already registered.")
            session.add(CourierItem(id=serial, kind="media", transfer_id=transfer.id, media=media,
                                    quantity=len(parts), registered_user=user.login,
                                    registered_org=user.organisation_id, registered_at=gw.clock.now(),
                                    cabinet=cabinet, label={**base, "pieces": len(parts)}))
            session.flush()
            gw.ledger.record(session, a.event(
                blob_sha256=transfer.package_sha256,
                reason=f"{media} {serial}: {len(parts)} piece(s) written, held by {user.login}"
                       + (f" in cabinet {cabinet}" if cabinet else ""),
            ))
    except BaseException:
        for p in paths:
            _remove(p)
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            package.unlink()
    return Written(serial, media, transfer.id, tuple(paths), tuple(parts), transfer.package_sha256, size)


def _allowed(a: Attempt, session: Any, transfer_id: str, media: str, serial: str,
             now: datetime) -> tuple[m.Transfer, dict[str, Any]]:
    user = a.user
    transfer = session.get(m.Transfer, transfer_id)
    if transfer is None or transfer.sender_organisation_id != user.organisation_id:
        raise NotFound(f"受け渡し「{transfer_id}」は見つかりません。", f"no transfer '{transfer_id}' sent by your organisation.")
    a.approval, a.transfer = transfer.approval_id, transfer.id
    refuse_if_held(transfer.state)
    approval = get_approval(session, transfer.approval_id)
    profile = get_profile(session, transfer.profile_id)
    problems = []
    if profile.channel != "courier":
        problems.append(bad(f"受け渡し「{transfer_id}」は媒体による受け渡し（courier）ではありません。",
                            f"transfer '{transfer_id}' does not go by courier (profile {profile.id}).", Kind.UNAPPROVED_CHANNEL))
    elif media not in profile.media:
        problems.append(bad(f"媒体「{media}」は受け渡し方法「{profile.title}」で認められていません（{', '.join(profile.media)}）。",
                            f"media '{media}' is not allowed by profile '{profile.id}' ({', '.join(profile.media)}).",
                            Kind.UNAPPROVED_CHANNEL))
    if user.role not in profile.sender_roles or may_touch(approval, user) is not None:
        problems.append(bad("あなたはこの受け渡しの媒体を作成できません（送付元の職員又は取扱者だけが作成できます）。",
                            "you may not write media for this transfer (only the sender's staff or designated handlers).",
                            Kind.NON_DESIGNATED_HANDLER if user.role == "contractor" else None))
    if not SERIAL.match(serial):
        problems.append(bad("シリアル番号は英数字・ハイフン・下線で 40 文字以内にしてください。",
                            "a serial is up to 40 letters, digits, hyphens and underscores."))
    elif session.get(CourierItem, serial) is not None:
        problems.append(bad(f"シリアル番号「{serial}」は既に使われています。別の番号を付けてください。",
                            f"serial '{serial}' is already registered; use another."))
    if problems:
        raise Refused(problems)
    base = {"format": "gateway-media-label/1", "serial": serial, "media": media, "transfer": transfer.id,
            "approval": approval.id, "approval_case_number": approval.case_number,
            "record_count": transfer.record_count, "package_sha256": transfer.package_sha256,
            "written_at": timestamp(now), "written_at_jst": f"{to_jst(now):%Y-%m-%d %H:%M} JST"}
    session.expunge(transfer)
    return transfer, base


def _parts(package: Path, spans: list[tuple[int, int]]) -> list[Part]:
    out = []
    with package.open("rb") as f:
        for n, (offset, length) in enumerate(spans, 1):
            digest = hashlib.sha256()
            f.seek(offset)
            left = length
            while left:
                block = f.read(min(1 << 20, left))
                digest.update(block)
                left -= len(block)
            out.append(Part(n, len(spans), offset, length, digest.hexdigest()))
    return out


def image_name(serial: str, part: Part, media: str) -> str:
    if media == "hdd":
        return serial
    return f"{serial}.iso" if part.of == 1 else f"{serial}-{part.number}of{part.of}.iso"


def _write_one(pkg: BinaryIO, part: Part, lbl: dict[str, Any], media: str, serial: str, out_dir: Path) -> Path:
    target = out_dir / image_name(serial, part, media)
    if target.exists():
        raise Conflict(f"{target} は既に存在します。別の出力先を指定してください。",
                           f"{target} already exists; choose another output directory.")
    text = label_text(lbl).encode("utf-8")
    meta = json.dumps(lbl, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
    if media == "hdd":
        return _write_tree(pkg, part, text, meta, target)
    iso = pycdlib.PyCdlib()
    # The volume id is what a desktop shows for the disc: the serial and the piece.
    vol = "".join(c if c.isalnum() else "_" for c in f"{serial}_{part.number}_{part.of}".upper())[:32]
    iso.new(interchange_level=3, joliet=3, vol_ident=vol, app_ident_str="GATEWAY COURIER MEDIA")
    iso.add_fp(io.BytesIO(text), len(text), f"/{LABEL_TXT};1", joliet_path=f"/{LABEL_TXT}")
    iso.add_fp(io.BytesIO(meta), len(meta), f"/{LABEL_JSON};1", joliet_path=f"/{LABEL_JSON}")
    name = part_name(part)
    iso.add_fp(cast(BinaryIO, _Window(pkg, part.offset, part.length)), part.length, f"/{name};1", joliet_path=f"/{name}")
    temp = out_dir / f".{target.name}.{secrets.token_hex(6)}.tmp"
    try:
        with temp.open("w+b") as out:
            iso.write_fp(out)
            out.flush()
            os.fsync(out.fileno())
        iso.close()
        os.replace(temp, target)
        fsync_dir(out_dir)
    except BaseException:
        _remove(temp)
        raise
    return target


def _write_tree(pkg: BinaryIO, part: Part, text: bytes, meta: bytes, target: Path) -> Path:
    """An external HDD: a directory named by the serial with the package and the label."""
    temp = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
    temp.mkdir(mode=0o700)
    try:
        (temp / LABEL_TXT).write_bytes(text)
        (temp / LABEL_JSON).write_bytes(meta)
        with (temp / part_name(part)).open("wb") as out:
            window = _Window(pkg, part.offset, part.length)
            while block := window.read(1 << 20):
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
        fsync_dir(target.parent)
    except BaseException:
        _remove(temp)
        raise
    return target


def _remove(path: Path) -> None:
    if path.is_dir():
        for child in path.iterdir():
            child.unlink()
        path.rmdir()
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


# --- the receiving side: read the media back, without mounting them ---------------------------

# What a damaged or foreign image makes the readers raise; each becomes the one refusal below.
# pycdlib parses the image's structures with struct and indexing as they come, so a hostile image
# surfaces as any of these, not only as its own exception.
_UNREADABLE = (OSError, ValueError, KeyError, TypeError, IndexError, struct.error, OverflowError, RecursionError,
               pycdlib.pycdlibexception.PyCdlibException)
_PART_FILE = re.compile(r"\A(PACKAGE|PART[0-9]{2})\.AGE\Z")


def _damaged(image: Path) -> Invalid:
    return Invalid(f"{image.name} はゲートウェイが作成した媒体ではないか、破損しています。送付元に確認してください。",
                   f"{image.name} is not media the gateway wrote, or it is damaged; ask the sender.")


def read_label(image: Path) -> dict[str, Any]:
    """The label a set of media carries, checked for the shape `write_media` gives it: whatever
    else is on the disc (a damaged or forged image) is refused, never read as a label."""
    try:
        if image.is_dir():
            lbl = json.loads((image / LABEL_JSON).read_text(encoding="utf-8"))
        else:
            iso = pycdlib.PyCdlib()
            iso.open(str(image))
            try:
                buf = io.BytesIO()
                iso.get_file_from_iso_fp(buf, joliet_path=f"/{LABEL_JSON}")
            finally:
                iso.close()
            lbl = json.loads(buf.getvalue().decode("utf-8"))
        part = lbl["part"]
        shaped = (isinstance(lbl["serial"], str) and isinstance(lbl["package_sha256"], str)
                  and isinstance(part["number"], int) and isinstance(part["of"], int) and 1 <= part["number"] <= part["of"]
                  and isinstance(part["sha256"], str) and isinstance(part["file"], str)
                  and _PART_FILE.match(part["file"]) is not None)
    except _UNREADABLE:
        raise _damaged(image) from None
    if not shaped:
        raise _damaged(image)
    return cast(dict[str, Any], lbl)


def extract(images: list[Path], output: Path) -> dict[str, Any]:
    """Join the parts of a media set into the package, checking every part and the whole against
    the labels. Returns the label of the set."""
    labels = sorted(((read_label(p), p) for p in images), key=lambda lp: lp[0]["part"]["number"])
    first = labels[0][0]
    numbers = [lbl["part"]["number"] for lbl, _ in labels]
    if any(lbl["serial"] != first["serial"] or lbl["package_sha256"] != first["package_sha256"] for lbl, _ in labels) \
            or numbers != list(range(1, first["part"]["of"] + 1)):
        raise Invalid(
            f"媒体がそろっていません（{first['serial']}: {', '.join(map(str, numbers))} / {first['part']['of']}）。",
            f"the set is incomplete or mixed ({first['serial']}: parts {numbers} of {first['part']['of']}).")
    whole = hashlib.sha256()
    temp = output.parent / f".{output.name}.{secrets.token_hex(6)}.tmp"
    try:
        with temp.open("wb") as out:
            for lbl, path in labels:
                part = _HashingWriter(out, whole)
                try:
                    _read_part(path, lbl["part"]["file"], part)
                except _UNREADABLE:
                    raise _damaged(path) from None
                if part.digest.hexdigest() != lbl["part"]["sha256"]:
                    raise Invalid(f"媒体 {lbl['piece']} の内容がラベルと一致しません（破損の可能性）。",
                                       f"piece {lbl['piece']} does not match its label (damaged media?).")
        if whole.hexdigest() != first["package_sha256"]:
            raise Invalid("結合したパッケージの SHA-256 がラベルと一致しません。",
                               "the joined package's SHA-256 differs from the label.")
        os.replace(temp, output)
    except BaseException:
        _remove(temp)
        raise
    return first


class _HashingWriter:
    """Streams a part into the output while hashing it and the whole package."""

    def __init__(self, out: BinaryIO, whole: Any) -> None:
        self.out, self.whole, self.digest = out, whole, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.whole.update(data)
        return self.out.write(data)


def _read_part(image: Path, name: str, out: _HashingWriter) -> None:
    if image.is_dir():
        with (image / name).open("rb") as f:
            while block := f.read(1 << 20):
                out.write(block)
        return
    iso = pycdlib.PyCdlib()
    iso.open(str(image))
    try:
        iso.get_file_from_iso_fp(cast(BinaryIO, out), joliet_path=f"/{name}")
    finally:
        iso.close()
