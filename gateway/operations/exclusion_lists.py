"""The city's separately held exclusion lists, kept at the gateway only as keyed hashes.

`import_list` reads the list the city keeps (one 宛名番号 or 住民番号 a line, or the first column
of a CSV), replaces it by HMAC-SHA256 digests under the installation's own list key
(keys/exclusion-list.key, made by `gateway init` and copied with the keys to every node), and
stores only those, in the database every node reads (models_exclusion.py), in the same transaction
as its log entry. The log says how many entries and the SHA-256 of the digest set, never a number.
A send whose approval screens a population by list matches each row's number the same way
(records/keyed_lists.py); the numbers are never stored, logged or written in clear.
"""
from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

from sqlalchemy import select

from gateway.core.approvals import Approval
from gateway.core.records.fields import EXCLUDED_POPULATIONS
from gateway.core.records.keyed_lists import KEY_FIELDS, KeyedList, digest, key_id, normalise
from gateway.crypto.keystore import EXCLUSION_LIST_KEY
from gateway.errors import Forbidden, Invalid
from gateway.ledger.log import lock_head
from gateway.operations.accounts import Caller
from gateway.operations.attempt import attempt
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.models_exclusion import ExclusionList

ACTION = "exclusion.import"
IMPORTERS = ("staff", "security-officer")


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
        key = gw.keys.exclusion_list_key(create=True)
        assert key is not None
        digests = sorted({digest(key, n) for n in numbers})
        set_sha256 = hashlib.sha256("\n".join(digests).encode("ascii")).hexdigest()
        with gw.unit() as session:  # the list and its log entry, or neither
            lock_head(session)  # two imports of one list at once (two nodes): one after the other
            row = session.get(ExclusionList, population) or ExclusionList(population=population)
            row.key_field, row.key_id, row.digests = key_field, key_id(key), digests
            row.entries, row.set_sha256, row.imported_at = len(digests), set_sha256, gw.clock.now()
            session.add(row)
            gw.ledger.record(session, a.event(
                reason=f"imported {len(digests)} entries for {population} keyed by {key_field}; "
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
    key = gw.keys.exclusion_list_key()
    with gw.read() as session:
        rows = {r.population: r for r in session.scalars(select(ExclusionList).where(
            ExclusionList.population.in_([e.population for e in needed])))}
    out = []
    for e in needed:
        row = rows.get(e.population)
        if row is None:
            raise Invalid(f"除外対象「{e.population}」のリストが取り込まれていないため、照合できません。"
                          "gateway exclusion import で取り込んでから送付してください。",
                          f"the list for '{e.population}' has not been imported, so the file cannot be screened; "
                          "import it with `gateway exclusion import` first.")
        if key is None or row.key_id != key_id(key):  # a node without the key, or with another one
            raise Invalid(f"除外対象「{e.population}」のリストはこのノードにない鍵で取り込まれたため、ここでは照合できません。"
                          f"リストを取り込んだノードの keys/{EXCLUSION_LIST_KEY} をこのノードに複製してください。",
                          f"the list for '{e.population}' was imported under a list key this node does not hold, so it cannot "
                          f"screen by it; copy keys/{EXCLUSION_LIST_KEY} from the node that imported it.")
        if row.key_field != e.list_key:
            raise Invalid(f"除外対象「{e.population}」のリストは {row.key_field} で照合するものです（承認は {e.list_key}）。",
                          f"the list for '{e.population}' is keyed by {row.key_field}, the approval by {e.list_key}.")
        out.append(KeyedList(e.population, row.key_field, frozenset(row.digests)))
    assert key is not None
    return key, out

