"""The council approval (諮問 → 答申): the unit of permission for every hand-over.

An approval fixes what may be sent (fields, population, an upper bound on records), to whom
(contractors, approved subcontractors, their certifications and designated handlers), by which
transfer profiles, during which period, how long copies may live, and under which conditions
(附帯意見). The file format is documented in `gateway/data/simulations/approvals/README.md`.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

from gateway.clock import JST
from gateway.core.duties import DUTY_KINDS, EVERY, Duty
from gateway.core.records.fields import CANONICAL_FIELDS, CONTROL_FIELDS, EXCLUDED_POPULATIONS
from gateway.core.records.keyed_lists import KEY_FIELDS
from gateway.core.records.opaque import MEDIA_TYPES
from gateway.core.second_check import CheckRule
from gateway.core.tomlfile import DefinitionError, Table, parse, read_text

LEGAL_BASES = {
    "outside-provision": "外部提供",
    "other-purpose-use": "目的外利用",
    "online-link": "外部結合（オンライン結合）",
    "outsourcing": "業務委託",
}
DECISIONS = {
    "approved": "承認",
    "approved-with-conditions": "条件付き承認",
    "deferred": "継続審議",
}
CERTIFICATIONS = {
    "privacy-mark": "プライバシーマーク",
    "iso27001": "ISO/IEC 27001",
    "lgwan-asp": "LGWAN-ASP 登録",
}
ORG_KINDS = ("city", "contractor", "subcontractor")
HANDLER_ROLES = {"responsible": "取扱責任者", "handler": "取扱者"}
EXCLUSION_HANDLING = ("remove", "refuse")
MEDIA_CLOSURES = {"return": "返却", "erase": "消去して報告（受託者の媒体）"}
RETENTION_BASES = {
    "period-end": "承認期間の終了",
    "record-fiscal-year": "記録の属する年度",
}

# Conditions a machine can check; everything else a council attaches is kept as text for people.
CONDITION_RULES = {
    "gateway-retention-max-days": "ゲートウェイ上の保管日数の上限",
    "contractor-deletion-max-days": "受託者の消去期限（期間終了後の日数）",
    "erasure-certificate-required": "消去証明書の提出",
    "password-delivery": "パスワードの送付方法",
    "require-certification": "必要な認証",
    "no-subcontracting": "再委託の禁止",
    "exclude-population": "除外すべき対象者",
}
# Who attached a condition: the council's reply itself (答申の条件), an opinion the council attached
# to its approval (附帯意見), or the city's terms in the contract (特記事項). They are shown apart:
# the first two bind the city towards the council, the last the contractor towards the city.
CONDITION_KINDS = {
    "council-condition": "答申の条件",
    "attached-opinion": "附帯意見",
    "special-term": "特記事項",
    "consultation-measure": "諮問書の保護対策",  # what the city undertook in its 諮問書, approved as asked
    "unclassified": "区分なし",
}
PASSWORD_METHODS = ("hand", "registered-mail")
# Bounds of what an approval may say. A retention of 100 years outlasts every record schedule
# (the longest, 30 years); no municipality has 100 million residents. Beyond them a value is a
# typo, and it would overflow the date arithmetic and the database columns it reaches.
MAX_DAYS = 36_525
MAX_RECORDS = 100_000_000
# An opaque payload is read into memory to count its pages: 256 MiB bounds that.
MAX_OPAQUE_BYTES = 256 << 20
PAYLOADS = {"records": "宛名ファイル（列を検査）", "opaque": "スキャン等（種類・大きさ・ページ数を検査）"}

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_LOGIN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")


@dataclass(frozen=True)
class Organisation:
    id: str
    name: str
    kind: str
    certifications: tuple[str, ...]


@dataclass(frozen=True)
class Handler:
    login: str
    name: str
    role: str  # responsible | handler


@dataclass(frozen=True)
class Subcontract:
    """A subcontract's own term (Shinjuku 2020, seed 003: 「再委託の開始時期及び期限 令和2年5月1日から
    令和2年8月31日まで」 while the contract runs to 11月30日): relays only inside it, and the
    subcontractor's copy is due for erasure N days after it ends."""

    start: datetime  # inclusive
    end: datetime  # exclusive
    deletion_days: int | None


@dataclass(frozen=True)
class Recipient:
    organisation: Organisation
    handlers: tuple[Handler, ...]
    subcontractors: tuple[Recipient, ...] = ()
    subcontract: Subcontract | None = None  # a subcontractor's own term, where the approval gives one


@dataclass(frozen=True)
class Exclusion:
    population: str
    handling: str  # remove: dropped before sending; refuse: the whole file is refused
    note: str = ""
    # Also screened against a list the city holds apart (Shinjuku's DV support-measure list), by
    # this number: addressee_code (宛名番号) or resident_number (住民番号). See keyed_lists.py.
    list_key: str | None = None


@dataclass(frozen=True)
class Retention:
    gateway_days: int | None  # the gateway's copy, counted from receipt by the contractor
    gateway_until_period_end: bool  # and never kept past the end of the period
    contractor_deletion_days: int | None  # erasure certificate due N days after the period ends
    contractor_keep_years: int | None  # kept N years, then erased at the roll-over month
    rollover_month: int | None
    note: str = ""
    # Where the keep-years count from: the end of the approval's period, or the fiscal year of the
    # records a transfer carries (Komae 002: 「賦課又は廃車された日の属する年度の4月1日を基点」).
    base: str = "period-end"
    # Shinjuku NHI (004): 「納品完了後、データを消去させ」「納品完了後、データ媒体、パスワード通知書を
    # 返却させる」: deadlines that start at each completed 納品 of the printed notices, not at the
    # end of the yearly period.
    deletion_after_delivery_days: int | None = None
    return_after_delivery_days: int | None = None
    # Kurume GIS (001): 「受託者が手配する外付ハードディスクドライブ」: media the contractor owns are
    # erased and reported, not returned ("erase"); the city's own come back ("return", the default).
    media_closure: str = "return"
    # 「現行サーバ内、変換サーバ内及び外付ハードディスクドライブ内のデータ」: every place the data must be
    # erased from; the erasure certificates of one request must cover each of them.
    erasure_locations: tuple[str, ...] = ()
    # Kurume AI-OCR (001) 附帯意見 「AI-OCRサーバに提供した情報を可能な限り即時削除すること」: the
    # gateway's copy is erased in the same act that records the contractor's matching receipt.
    erase_on_receipt: bool = False
    # What gateway_days count from: the contractor's receipt (default) or the sending (Kurume
    # AI-OCR: 「送信後5日以内にサーバ内から完全に削除される」).
    gateway_days_from: str = "receipt"


@dataclass(frozen=True)
class Condition:
    text: str
    rule: str | None = None
    value: int | str | tuple[str, ...] | None = None
    kind: str = "unclassified"  # one of CONDITION_KINDS: who attached it, with what force


@dataclass(frozen=True)
class DownloadRule:
    """複写及び複製の禁止: the complete downloads a package allows, and how many broken ones may be
    retried."""

    max_complete: int | None = None
    retries: int | None = None


@dataclass(frozen=True)
class Approval:
    id: str
    case_number: str
    title: str
    city: Organisation
    department: str
    legal_basis: tuple[str, ...]
    ordinance_articles: tuple[str, ...]
    council_session: str
    council_date: date
    decision: str
    fields: tuple[str, ...]
    population: str
    max_records: int
    excluded: tuple[Exclusion, ...]
    recipients: tuple[Recipient, ...]
    profiles: tuple[str, ...]
    period_start: datetime  # inclusive
    period_end: datetime  # exclusive: the first instant no longer covered
    contract_start: date | None
    contract_end: date | None
    retention: Retention
    conditions: tuple[Condition, ...]
    source_sha256: str = field(default="", compare=False)
    # Cells that would start a spreadsheet formula get a leading apostrophe in the package
    # (records/formulas.py); off only for a file that goes straight into a print system.
    neutralise_formulas: bool = True
    # "records": a recipient file whose columns are checked; "opaque": a scan or archive whose type,
    # size and pages/files are checked instead (Kurume AI-OCR, seed 001).
    payload: str = "records"
    media_types: tuple[str, ...] = ()
    max_bytes: int | None = None
    duties: tuple[Duty, ...] = ()  # the contract compliance ledger (core/duties.py)
    # Who must check a send before it leaves, and when (core/second_check.py).
    second_check: CheckRule = CheckRule()
    # How often each package may be downloaded, and profiles allowed for the first transfer only.
    downloads: DownloadRule = field(default_factory=lambda: DownloadRule())
    # Profiles allowed for the first hand-over only (Kurume's VPN line: 「システムへの住基情報の
    # セットアップ時のみ」), refused for any later one.
    first_transfer_only: tuple[str, ...] = ()

    @property
    def duty_window(self) -> tuple[datetime, datetime]:
        """The contract's window, over which recurring duties fall due: from the start of the
        period to the end of the contract (or of the period, where no contract end is given)."""
        end = datetime.combine(self.contract_end, time(0), tzinfo=JST) + timedelta(days=1) \
            if self.contract_end is not None else self.period_end
        return self.period_start, max(end, self.period_end)

    def duty(self, duty_id: str) -> Duty | None:
        return next((d for d in self.duties if d.id == duty_id), None)

    def all_handlers(self) -> tuple[str, ...]:
        return tuple(h.login for r in self.recipients for x in (r, *r.subcontractors) for h in x.handlers)

    @property
    def permits_anything(self) -> bool:
        return self.decision != "deferred"

    @property
    def list_keys(self) -> frozenset[str]:
        """Columns read only to screen against the city's separate lists, never sent for that."""
        return frozenset(e.list_key for e in self.excluded if e.list_key is not None)

    def recipient(self, org_id: str) -> Recipient | None:
        return next((r for r in self.recipients if r.organisation.id == org_id), None)

    def rule(self, name: str) -> Condition | None:
        return next((c for c in self.conditions if c.rule == name), None)

    def subcontract_of(self, org_id: str) -> Subcontract | None:
        for r in self.recipients:
            for s in r.subcontractors:
                if s.organisation.id == org_id:
                    return s.subcontract
        return None

    def handlers_of(self, org_id: str) -> tuple[Handler, ...]:
        for r in self.recipients:
            if r.organisation.id == org_id:
                return r.handlers
            for s in r.subcontractors:
                if s.organisation.id == org_id:
                    return s.handlers
        return ()

    def with_handlers(self, org_id: str, handlers: tuple[Handler, ...]) -> Approval:
        """This approval with `org_id`'s handler list replaced (an amendment the city decided)."""
        def amended(r: Recipient) -> Recipient:
            subs = tuple(amended(s) for s in r.subcontractors)
            return replace(r, handlers=handlers if r.organisation.id == org_id else r.handlers, subcontractors=subs)

        return replace(self, recipients=tuple(amended(r) for r in self.recipients))

    def organisations(self) -> list[Organisation]:
        orgs = [self.city]
        for r in self.recipients:
            orgs.append(r.organisation)
            orgs.extend(s.organisation for s in r.subcontractors)
        return orgs


def load_approval(path: str | Path) -> Approval:
    """Read and check one approval file; raises DefinitionError naming the file and key."""
    path = Path(path)
    return parse_approval_text(read_text(path), path)


def parse_approval_text(text: str, source: Path | str) -> Approval:
    doc = Table(parse(text, source), "", source)
    approval = _parse(doc, source)
    doc.done()
    _check_consistency(approval, source)
    return replace(approval, source_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())


def _parse(doc: Table, path: Path | str) -> Approval:
    approval_id = doc.text("id")
    assert approval_id is not None
    if not _ID.match(approval_id):
        raise DefinitionError(
            f"{path}: 「id」は英小文字・数字・ハイフンで 2〜63 文字にしてください。",
            f"{path}: 'id' must be 2-63 lowercase letters, digits and hyphens.",
        )
    council = doc.table("council")
    assert council is not None
    data = doc.table("data")
    assert data is not None
    period = doc.table("period")
    assert period is not None
    transfer = doc.table("transfer")
    assert transfer is not None
    retention_t = doc.table("retention")
    assert retention_t is not None

    city_t = doc.table("city")
    assert city_t is not None
    city = _organisation(city_t, "city", path)

    fields = data.texts("fields", choices=CANONICAL_FIELDS)
    if not fields:
        raise DefinitionError(
            f"{path}: 「data.fields」が空です。提供を認める項目を列挙してください。",
            f"{path}: 'data.fields' is empty; list the fields the council approved.",
        )
    excluded = []
    for t in data.tables("excluded", required=False):
        excluded.append(
            Exclusion(
                population=t.choice("population", EXCLUDED_POPULATIONS) or "",
                handling=t.choice("handling", EXCLUSION_HANDLING) or "",
                note=t.text("note", required=False, default="") or "",
                list_key=t.choice("list_key", KEY_FIELDS, required=False),
            )
        )
        t.done()
    population = data.text("population") or ""
    max_records = data.integer("max_records", minimum=1, maximum=MAX_RECORDS) or 0
    neutralise_formulas = data.flag("neutralise_formulas", default=True)
    payload = data.choice("payload", PAYLOADS, required=False) or "records"
    media_types = data.texts("media_types", required=False, choices=MEDIA_TYPES)
    max_bytes = data.integer("max_bytes", required=False, minimum=1, maximum=MAX_OPAQUE_BYTES)
    data.done()
    if payload == "opaque" and (not media_types or max_bytes is None):
        raise DefinitionError(
            f"{path}: data.payload = \"opaque\" には data.media_types と data.max_bytes が必要です。",
            f"{path}: data.payload = \"opaque\" needs data.media_types and data.max_bytes.",
        )

    recipients = tuple(_recipient(t, path, allow_subcontractors=True) for t in doc.tables("recipients"))

    start = period.instant("start")
    end = period.instant("end", end_of_day=True)
    assert start is not None and end is not None
    if isinstance(period.raw("end"), datetime):
        # A written end like 23:59:59 names the last covered second; the interval is half-open.
        end = end + timedelta(seconds=1)
    contract_start = period.date("contract_start", required=False)
    contract_end = period.date("contract_end", required=False)
    period.done()

    retention = Retention(
        gateway_days=retention_t.integer("gateway_days", required=False, maximum=MAX_DAYS),
        gateway_until_period_end=retention_t.flag("gateway_until_period_end", default=True),
        contractor_deletion_days=retention_t.integer("contractor_deletion_days", required=False, maximum=MAX_DAYS),
        contractor_keep_years=retention_t.integer("contractor_keep_years", required=False, minimum=1,
                                              maximum=MAX_DAYS // 365),
        rollover_month=retention_t.integer("rollover_month", required=False, minimum=1, maximum=12),
        note=retention_t.text("note", required=False, default="") or "",
        base=retention_t.choice("base", RETENTION_BASES, required=False) or "period-end",
        deletion_after_delivery_days=retention_t.integer("deletion_after_delivery_days", required=False,
                                                         maximum=MAX_DAYS),
        return_after_delivery_days=retention_t.integer("return_after_delivery_days", required=False,
                                                       maximum=MAX_DAYS),
        media_closure=retention_t.choice("media_closure", MEDIA_CLOSURES, required=False) or "return",
        erasure_locations=retention_t.texts("erasure_locations", required=False),
        erase_on_receipt=retention_t.flag("erase_on_receipt", default=False),
        gateway_days_from=retention_t.choice("gateway_days_from", ("receipt", "send"), required=False) or "receipt",
    )
    retention_t.done()

    conditions = tuple(_condition(t, path) for t in doc.tables("conditions", required=False))
    duties = tuple(_duty(t, path) for t in doc.tables("duties", required=False))
    if len({d.id for d in duties}) != len(duties):
        raise DefinitionError(f"{path}: duties の id が重複しています。", f"{path}: a duty id is used twice.")
    second_check = _second_check(doc.table("second_check", required=False), path)
    downloads = _downloads(doc.table("downloads", required=False))
    profiles = transfer.texts("profiles")
    first_transfer_only = transfer.texts("first_transfer_only", required=False)
    transfer.done()
    council_session = council.text("session") or ""
    council_date = council.date("date")
    decision = council.choice("decision", DECISIONS) or ""
    council.done()

    return Approval(
        id=approval_id,
        case_number=doc.text("case_number") or "",
        title=doc.text("title") or "",
        city=city,
        department=doc.text("department") or "",
        legal_basis=doc.texts("legal_basis", choices=LEGAL_BASES),
        ordinance_articles=doc.texts("ordinance_articles", required=False),
        council_session=council_session,
        council_date=council_date,  # type: ignore[arg-type]
        decision=decision,
        fields=fields,
        population=population,
        max_records=max_records,
        excluded=tuple(excluded),
        recipients=recipients,
        profiles=profiles,
        period_start=start,
        period_end=end,
        contract_start=contract_start,
        contract_end=contract_end,
        retention=retention,
        conditions=conditions,
        neutralise_formulas=neutralise_formulas,
        payload=payload,
        media_types=media_types,
        max_bytes=max_bytes,
        duties=duties,
        second_check=second_check,
        downloads=downloads,
        first_transfer_only=first_transfer_only,
    )


def _downloads(t: Table | None) -> DownloadRule:
    if t is None:
        return DownloadRule()
    rule = DownloadRule(max_complete=t.integer("max_complete", required=False, minimum=1, maximum=1000),
                        retries=t.integer("retries", required=False, maximum=1000))
    t.done()
    return rule


def _second_check(t: Table | None, path: Path | str) -> CheckRule:
    if t is None:
        return CheckRule()
    rule = CheckRule(
        always=t.flag("always"),
        above_records=t.integer("above_records", required=False, maximum=MAX_RECORDS),
        fields=t.texts("fields", required=False, choices=CANONICAL_FIELDS),
        approvers=t.texts("approvers", required=False),
    )
    t.done()
    for login in rule.approvers:
        if not _LOGIN.match(login):
            raise DefinitionError(
                f"{path}: second_check.approvers の「{login}」は英小文字・数字・記号 ._- にしてください。",
                f"{path}: second_check.approvers '{login}' must be lowercase letters, digits and ._-")
    if (rule.always or rule.above_records is not None or rule.fields) and not rule.approvers:
        raise DefinitionError(
            f"{path}: 二重確認（second_check）を求めるなら、確認者（approvers）を列挙してください。",
            f"{path}: second_check requires a check but names no approvers; list them.")
    return rule


def _organisation(t: Table, kind: str, path: Path | str) -> Organisation:
    org_id = t.text("id") or ""
    if not _ID.match(org_id):
        raise DefinitionError(
            f"{path}: {t.where}.id「{org_id}」は英小文字・数字・ハイフンにしてください。",
            f"{path}: {t.where}.id '{org_id}' must be lowercase letters, digits and hyphens.",
        )
    return Organisation(
        id=org_id,
        name=t.text("name") or "",
        kind=kind,
        certifications=t.texts("certifications", required=False, choices=CERTIFICATIONS),
    )


def _recipient(t: Table, path: Path | str, *, allow_subcontractors: bool) -> Recipient:
    kind = "contractor" if allow_subcontractors else "subcontractor"
    org = _organisation(t, kind, path)
    required = t.texts("required_certifications", required=False, choices=CERTIFICATIONS)
    missing = sorted(set(required) - set(org.certifications))
    if missing:
        # The council made the certification a condition; a recipient without it cannot be named.
        raise DefinitionError(
            f"{path}: {t.where}（{org.name}）に必要な認証がありません: {', '.join(missing)}",
            f"{path}: {t.where} ({org.id}) lacks required certifications: {', '.join(missing)}",
        )
    handlers = []
    for h in t.tables("handlers"):
        login = h.text("login") or ""
        if not _LOGIN.match(login):
            raise DefinitionError(
                f"{path}: {h.where}.login「{login}」は英小文字・数字・記号 ._- にしてください。",
                f"{path}: {h.where}.login '{login}' must be lowercase letters, digits and ._-",
            )
        handlers.append(Handler(login=login, name=h.text("name") or "", role=h.choice("role", HANDLER_ROLES) or ""))
        h.done()
    if not any(h.role == "responsible" for h in handlers):
        raise DefinitionError(
            f"{path}: {t.where}（{org.name}）に取扱責任者（role = \"responsible\"）がいません。",
            f"{path}: {t.where} ({org.id}) names no responsible handler (role = \"responsible\").",
        )
    subs: tuple[Recipient, ...] = ()
    term = None
    if allow_subcontractors:
        subs = tuple(_recipient(s, path, allow_subcontractors=False) for s in t.tables("subcontractors", required=False))
    else:
        start = t.instant("period_start", required=False)
        end = t.instant("period_end", required=False, end_of_day=True)
        if isinstance(t.raw("period_end"), datetime) and end is not None:
            end = end + timedelta(seconds=1)
        days = t.integer("deletion_days", required=False, maximum=MAX_DAYS)
        if (start is None) != (end is None):
            raise DefinitionError(f"{path}: {t.where}: period_start と period_end は組で指定してください。",
                                  f"{path}: {t.where}: period_start and period_end go together.")
        if start is not None and end is not None:
            if end <= start:
                raise DefinitionError(f"{path}: {t.where}: 再委託の期限が開始より前です。",
                                      f"{path}: {t.where}: the subcontract ends before it starts.")
            term = Subcontract(start, end, days)
        elif days is not None:
            raise DefinitionError(f"{path}: {t.where}: deletion_days には再委託の期間（period_start, period_end）が必要です。",
                                  f"{path}: {t.where}: deletion_days needs the subcontract's period_start and period_end.")
    t.done()
    return Recipient(organisation=org, handlers=tuple(handlers), subcontractors=subs, subcontract=term)


def _duty(t: Table, path: Path | str) -> Duty:
    duty_id = t.text("id") or ""
    if not _ID.match(duty_id):
        raise DefinitionError(f"{path}: {t.where}.id「{duty_id}」は英小文字・数字・ハイフンにしてください。",
                              f"{path}: {t.where}.id '{duty_id}' must be lowercase letters, digits and hyphens.")
    duty = Duty(id=duty_id, kind=t.choice("kind", DUTY_KINDS) or "", every=t.choice("every", EVERY) or "",
                text=t.text("text") or "")
    t.done()
    return duty


def _condition(t: Table, path: Path | str) -> Condition:
    text = t.text("text") or ""
    rule = t.choice("rule", CONDITION_RULES, required=False)
    value = t.raw("value")
    kind = t.choice("kind", CONDITION_KINDS, required=False) or "unclassified"
    t.done()
    if rule in ("gateway-retention-max-days", "contractor-deletion-max-days"):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
            raise DefinitionError(
                f"{path}: {t.where}: 規則「{rule}」の value は 0〜{MAX_DAYS} の整数です。",
                f"{path}: {t.where}: rule '{rule}' needs an integer value from 0 to {MAX_DAYS}.",
            )
    elif rule in ("password-delivery", "require-certification", "exclude-population"):
        choices = {
            "password-delivery": PASSWORD_METHODS,
            "require-certification": tuple(CERTIFICATIONS),
            "exclude-population": EXCLUDED_POPULATIONS,
        }[rule]
        if isinstance(value, str):
            value = (value,)
        if not isinstance(value, list | tuple) or not value or any(v not in choices for v in value):
            raise DefinitionError(
                f"{path}: {t.where}: 規則「{rule}」の value は次の値の配列です: {', '.join(choices)}",
                f"{path}: {t.where}: rule '{rule}' needs an array value of: {', '.join(choices)}",
            )
        value = tuple(value)
    elif value is not None:
        raise DefinitionError(
            f"{path}: {t.where}: value は規則（rule）がある場合だけ書けます。",
            f"{path}: {t.where}: 'value' is only allowed with a machine-checkable rule.",
        )
    return Condition(text=text, rule=rule, value=value, kind=kind)


def _check_consistency(a: Approval, path: Path | str) -> None:
    """Cross-field rules: an approval that contradicts itself must not be registered."""

    def fail(ja: str, en: str) -> None:
        raise DefinitionError(f"{path}: {ja}", f"{path}: {en}")

    if a.period_end <= a.period_start:
        fail("期間の終了が開始より前です。period.start と period.end を確認してください。",
             "the period ends before it starts; check period.start and period.end.")
    if set(a.first_transfer_only) - set(a.profiles):
        fail("transfer.first_transfer_only には transfer.profiles にある受け渡し方法だけを書けます。",
             "transfer.first_transfer_only may name only profiles of transfer.profiles.")
    if a.contract_start and a.contract_end and a.contract_end < a.contract_start:
        fail("契約期間の終了が開始より前です。", "the contract period ends before it starts.")
    if set(a.fields) & set(CONTROL_FIELDS):
        fail("除外区分などの制御用の列は提供項目に入れられません。",
             "control columns such as the exclusion flag cannot be approved fields.")
    if (a.retention.contractor_keep_years is None) != (a.retention.rollover_month is None):
        fail("contractor_keep_years と rollover_month は組で指定してください。",
             "contractor_keep_years and rollover_month go together.")
    if a.retention.base == "record-fiscal-year" and a.retention.contractor_keep_years is None:
        fail("retention.base = \"record-fiscal-year\" には contractor_keep_years と rollover_month が必要です。",
             "retention.base = \"record-fiscal-year\" needs contractor_keep_years and rollover_month.")
    locations = [loc.strip() for loc in a.retention.erasure_locations]
    if any(not loc for loc in locations) or len(set(locations)) != len(locations):
        fail("retention.erasure_locations に空の値か重複があります。",
             "retention.erasure_locations holds an empty or repeated place.")
    if a.retention.rollover_month is not None and not 1 <= a.retention.rollover_month <= 12:
        fail("rollover_month は 1〜12 です。", "rollover_month must be 1-12.")
    if not a.recipients and a.permits_anything:
        fail("提供先（recipients）がありません。", "the approval names no recipient.")
    if len({p.population for p in a.excluded}) != len(a.excluded):
        fail("除外対象が重複しています。", "an excluded population is listed twice.")
    org_ids = [o.id for o in a.organisations()]
    if len(set(org_ids)) != len(org_ids):
        fail("組織 id が重複しています。", "an organisation id is used twice.")
    logins = [h.login for r in a.recipients for x in (r, *r.subcontractors) for h in x.handlers]
    if len(set(logins)) != len(logins):
        fail("取扱者の login が重複しています。", "a handler login is listed twice.")
    for c in a.conditions:
        if c.rule == "gateway-retention-max-days":
            days = a.retention.gateway_days
            if days is None or days > int(c.value):  # type: ignore[arg-type]
                fail(f"附帯意見（{c.text}）に反し、retention.gateway_days が {c.value} 日を超えるか未設定です。",
                     f"retention.gateway_days is unset or exceeds the {c.value} days the condition allows.")
        if c.rule == "contractor-deletion-max-days":
            days = a.retention.contractor_deletion_days
            if days is None or days > int(c.value):  # type: ignore[arg-type]
                fail(f"附帯意見（{c.text}）に反し、retention.contractor_deletion_days が {c.value} 日を超えるか未設定です。",
                     f"retention.contractor_deletion_days is unset or exceeds the {c.value} days the condition allows.")
        if c.rule == "exclude-population":
            listed = {e.population for e in a.excluded}
            for pop in c.value:  # type: ignore[union-attr]
                if pop not in listed:
                    fail(f"附帯意見が除外を求める対象「{pop}」が data.excluded にありません。",
                         f"the conditions require excluding '{pop}' but data.excluded does not list it.")
        if c.rule == "require-certification":
            for r in a.recipients:
                for x in (r, *r.subcontractors):
                    lacking = set(c.value) - set(x.organisation.certifications)  # type: ignore[arg-type]
                    if lacking:
                        fail(f"{x.organisation.name} に附帯意見が求める認証がありません: {', '.join(sorted(lacking))}",
                             f"{x.organisation.id} lacks certifications the conditions require: {', '.join(sorted(lacking))}")
        if c.rule == "no-subcontracting" and any(r.subcontractors for r in a.recipients):
            fail("附帯意見が再委託を禁じているのに再委託先があります。",
                 "the conditions forbid subcontracting but a subcontractor is listed.")
