"""The city's separately held exclusion lists, kept at the gateway only as keyed hashes.

`import_list` reads the list the city keeps (one 宛名番号 or 住民番号 a line, or the first column
of a CSV), replaces it by HMAC-SHA256 digests under the installation's own list key, and writes
only those (home/exclusion-lists/<population>.json, owner-only). The log says how many entries and
the SHA-256 of the digest set, never a number. A send whose approval screens a population by list
matches each row's number the same way (records/keyed_lists.py); the numbers never leave the home
and are never written in clear.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import secrets
from pathlib import Path

from gateway.clock import timestamp
from gateway.core.approvals import Approval
from gateway.core.records.fields import EXCLUDED_POPULATIONS
from gateway.core.records.keyed_lists import KEY_FIELDS, KeyedList, digest, normalise
from gateway.errors import Forbidden, Invalid
from gateway.fsutil import atomic_output
from gateway.operations.accounts import Caller
from gateway.operations.attempt import attempt
from gateway.service import Gateway
from gateway.store import models as m

ACTION = "exclusion.import"
IMPORTERS = ("staff", "security-officer")


def _directory(gw: Gateway) -> Path:
    d = gw.home.root / "exclusion-lists"
    d.mkdir(mode=0o700, exist_ok=True)
    return d


def list_key(gw: Gateway, *, create: bool) -> bytes | None:
    """The installation's HMAC key for the lists (32 random bytes, owner-only), made on first use."""
    path = gw.home.keys / "exclusion-list.key"
    if path.exists():
        return path.read_bytes()
    if not create:
        return None
    with atomic_output(path) as f:
        f.write(secrets.token_bytes(32))
    return path.read_bytes()


def import_list(gw: Gateway, caller: Caller, population: str, key_field: str, source: Path) -> dict[str, object]:
    with attempt(gw, caller, ACTION) as a:
        with gw.read() as session:
            org = session.get(m.Organisation, a.user.organisation_id)
            if a.user.role not in IMPORTERS or org is None or org.kind != "city":
                raise Forbidden("除外リストは市の職員又は情報セキュリティ担当が取り込みます。",
                                "city staff or a security officer import an exclusion list.")
        if population not in EXCLUDED_POPULATIONS:
            raise Invalid(f"除外対象「{population}」はありません（{', '.join(EXCLUDED_POPULATIONS)}）。",
                          f"no excluded population '{population}' ({', '.join(EXCLUDED_POPULATIONS)}).")
        if key_field not in KEY_FIELDS:
            raise Invalid(f"照合する番号は {' / '.join(KEY_FIELDS)} です。", f"the key is one of {', '.join(KEY_FIELDS)}.")
        numbers = _numbers(source)
        if not numbers:
            raise Invalid("リストに番号がありません。1 行に 1 つの番号を書いたファイルを指定してください。",
                          "the list holds no number; give a file with one number a line.")
        key = list_key(gw, create=True)
        assert key is not None
        digests = sorted({digest(key, n) for n in numbers})
        set_sha256 = hashlib.sha256("\n".join(digests).encode("ascii")).hexdigest()
        with atomic_output(_directory(gw) / f"{population}.json") as f:
            f.write(json.dumps({"population": population, "key_field": key_field, "digests": digests,
                                "imported_at": timestamp(gw.clock.now()), "entries": len(digests),
                                "set_sha256": set_sha256}).encode("utf-8"))
        gw.record(a.event(reason=f"imported {len(digests)} entries for {population} keyed by {key_field}; "
                                 f"digest set sha256 {set_sha256}"))
        return {"population": population, "key_field": key_field, "entries": len(digests), "set_sha256": set_sha256}


def _numbers(source: Path) -> list[str]:
    try:
        text = source.read_bytes()
    except OSError as err:
        raise Invalid(f"リストを開けません（{err.strerror}）。", f"cannot open the list ({err.strerror}).") from None
    for codec in ("utf-8-sig", "cp932"):
        try:
            decoded = text.decode(codec)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise Invalid("リストの文字コードを判別できません（UTF-8 又は Shift_JIS）。",
                      "the list is neither UTF-8 nor Shift_JIS.")
    out = []
    for row in csv.reader(io.StringIO(decoded)):
        if not row:
            continue
        number = normalise(row[0])
        if number.isdigit():  # a header line or a blank cell is not a number
            out.append(number)
    return out


def lists_for(gw: Gateway, approval: Approval) -> tuple[bytes, list[KeyedList]] | None:
    """The key and the lists the approval screens by, or None when it screens by none; a list the
    approval needs but nobody imported is refused (the file cannot be screened)."""
    needed = [e for e in approval.excluded if e.list_key is not None]
    if not needed:
        return None
    key = list_key(gw, create=False)
    out = []
    for e in needed:
        path = _directory(gw) / f"{e.population}.json"
        if key is None or not path.exists():
            raise Invalid(f"除外対象「{e.population}」のリストが取り込まれていないため、照合できません。"
                          "gateway exclusion import で取り込んでから送付してください。",
                          f"the list for '{e.population}' has not been imported, so the file cannot be screened; "
                          "import it with `gateway exclusion import` first.")
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("key_field") != e.list_key:
            raise Invalid(f"除外対象「{e.population}」のリストは {data.get('key_field')} で照合するものです（承認は {e.list_key}）。",
                          f"the list for '{e.population}' is keyed by {data.get('key_field')}, the approval by {e.list_key}.")
        out.append(KeyedList(e.population, str(e.list_key), frozenset(data["digests"])))
    assert key is not None
    return key, out

