"""Chain of custody of courier items (media and password notices): pure rules, no I/O.

Seed 004 (Shinjuku NHI CD-R): the encrypted media and the password notice sit in separate locked
cabinets and are handed over by staff on different days; every hand-over, and every return, is a
confirmation record (確認書: date and time, handler, content, quantity) so that the history can be
traced. These functions replay such records and judge a new one before anything is written.

The replay rule is the auditor's (audit/FORMAT.md, `custody-gap`): an event must come from whoever
held the item after the previous event and must not be earlier than it; a `lost` event ends the
chain. The gateway refuses what the auditor would flag, so a gap can only enter the records as a
reported loss.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gateway.clock import to_jst
from gateway.errors import Refusal
from gateway.findings import Kind

ITEM_KINDS = ("media", "notice")
EVENTS = ("handover", "return", "lost")
# Ways an item may change hands. Media go by hand (手渡し, seed 004); to a subcontractor also by
# security courier (セキュリティ便, seed 000). Notices go the ways the profile allows them.
MEANS = {"hand": "手渡し", "security-courier": "セキュリティ便", "registered-mail": "簡易書留"}
ITEM_LABELS = {"media": "媒体", "notice": "パスワード通知書"}


@dataclass(frozen=True)
class Party:
    """A person and their organisation, as a 確認書 names them."""

    person: str  # login
    org: str

    def __str__(self) -> str:
        return f"{self.person} ({self.org})"


@dataclass(frozen=True)
class Item:
    id: str  # media serial or notice id
    kind: str  # media | notice
    transfer: str
    owner_org: str  # the organisation that sent the transfer: items come back to it
    quantity: int  # pieces (discs of a split set); 1 for a notice
    registered_by: Party  # who held it first: the writer of the media, the sender of the notice
    registered_at: datetime
    cabinet: str | None = None


@dataclass(frozen=True)
class Record:
    """One custody event already in the records."""

    item: str
    event: str  # handover | return | lost
    frm: Party | None
    to: Party | None
    at: datetime
    quantity: int
    cabinet: str | None = None
    means: str | None = None
    run: str | None = None  # courier run (便) or tracking number


@dataclass(frozen=True)
class Holding:
    """Where an item is after its records."""

    holder: Party | None  # None once lost
    cabinet: str | None
    since: datetime
    lost: bool = False


def holding(item: Item, records: Iterable[Record]) -> Holding:
    """Replay an item's records in order: who holds it now, in which cabinet, since when."""
    now = Holding(item.registered_by, item.cabinet, item.registered_at)
    for r in records:
        if r.event == "lost":
            now = Holding(None, None, r.at, lost=True)
        else:
            now = Holding(r.to, r.cabinet, r.at)
    return now


def holding_at(item: Item, records: Sequence[Record], at: datetime) -> Holding:
    return holding(item, [r for r in records if r.at <= at])


@dataclass(frozen=True)
class Rules:
    """What the transfer's approval and profile allow for its items."""

    recipient_org: str  # the organisation the transfer is addressed to
    media_means: frozenset[str]
    notice_means: frozenset[str]
    return_days: int
    other_day: bool = True  # the profile's password_on_other_day
    media_returned: bool = True  # False: the contractor's own media, erased and reported instead


@dataclass(frozen=True)
class Attempt:
    item: Item
    event: str
    frm: Party | None
    to: Party | None
    at: datetime
    quantity: int
    cabinet: str | None
    means: str | None
    run: str | None
    now: datetime


@dataclass(frozen=True)
class Judgement:
    refusals: tuple[Refusal, ...]
    return_due: datetime | None = None

    @property
    def allowed(self) -> bool:
        return not self.refusals


@dataclass(frozen=True)
class History:
    """Every item of one transfer with its records, in order."""

    items: Mapping[str, Item]
    records: Mapping[str, Sequence[Record]] = field(default_factory=dict)

    def of(self, item_id: str) -> Sequence[Record]:
        return self.records.get(item_id, ())


def crosses(r: Record | Attempt) -> bool:
    """A hand-over from one organisation to another: the moment data changes hands."""
    return r.event == "handover" and r.frm is not None and r.to is not None and r.frm.org != r.to.org


def same_cabinet(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and _norm(a) == _norm(b)


def _norm(text: str) -> str:
    return "".join(text.split()).casefold()


def return_due(at: datetime, days: int) -> datetime:
    return at + timedelta(days=days)


def judge(a: Attempt, rules: Rules, history: History) -> Judgement:
    """Every reason to refuse the attempt, or the return deadline it sets."""
    item = a.item
    records = history.of(item.id)
    now = holding(item, records)
    out: list[Refusal] = []
    add = out.append
    label = ITEM_LABELS[item.kind]

    if now.lost:
        return Judgement((Refusal(
            None,
            f"{label}「{item.id}」は紛失として記録されています。これ以上の受渡しは記録できません。",
            f"{item.kind} '{item.id}' is recorded as lost; no further custody event can be recorded.",
        ),))
    if a.frm != now.holder:
        add(Refusal(
            Kind.CUSTODY_GAP,
            f"{label}「{item.id}」を現在保管しているのは {now.holder} です。{a.frm} からの受渡しは記録できません。"
            "保管者本人が受け渡してください。",
            f"{item.kind} '{item.id}' is held by {now.holder}, not {a.frm}; only its holder can hand it over.",
        ))
    if a.at < now.since:
        add(Refusal(
            Kind.CUSTODY_GAP,
            f"日時 {to_jst(a.at):%Y-%m-%d %H:%M} JST は前回の記録（{to_jst(now.since):%Y-%m-%d %H:%M} JST）より前です。"
            "日時を確認してください。",
            f"{a.at.isoformat()} is earlier than the item's previous record ({now.since.isoformat()}); check the time.",
        ))
    if a.at > a.now:
        add(Refusal(None, f"日時 {to_jst(a.at):%Y-%m-%d %H:%M} JST は未来です。実際に受け渡した日時を記録してください。",
                    f"{a.at.isoformat()} is in the future; record when the hand-over actually happened."))
    if a.quantity != item.quantity:
        add(Refusal(
            None,
            f"数量 {a.quantity} は{label}「{item.id}」の数量 {item.quantity} と一致しません。枚数を確認してください。",
            f"quantity {a.quantity} does not match {item.quantity} of {item.kind} '{item.id}'; count the pieces again.",
        ))
    if a.event == "lost":
        return Judgement(tuple(out))

    if a.to is None or (a.frm is not None and a.to == a.frm):
        add(Refusal(None, "受取人を指定してください（渡す人と同じ人は指定できません）。",
                    "name the person receiving the item (not the person handing it over)."))
    if not (a.cabinet or "").strip():
        add(Refusal(None, "受け取った後に保管する施錠キャビネットを指定してください。",
                    "name the locked cabinet the item goes into."))
    out.extend(_direction(a, rules, item))
    out.extend(_means(a, rules, item))
    out.extend(_separation(a, rules, history))
    due = None
    if a.frm is not None and a.to is not None and crosses(a) and a.frm.org == item.owner_org \
            and (item.kind != "media" or rules.media_returned):
        due = return_due(a.at, rules.return_days)
    return Judgement(tuple(out), due)


def _direction(a: Attempt, rules: Rules, item: Item) -> list[Refusal]:
    if a.to is None or a.frm is None:
        return []
    if a.event == "return":
        if a.to.org != item.owner_org:
            return [Refusal(None, f"返却先は送付元の組織（{item.owner_org}）の人です。",
                            f"items are returned to the sending organisation '{item.owner_org}'.")]
        if a.frm.org == item.owner_org:
            return [Refusal(None, "この品目は送付元の組織内にあります。返却ではなく受渡しとして記録してください。",
                            "the item is inside the sending organisation; record a hand-over, not a return.")]
        return []
    if a.to.org == a.frm.org:
        return []  # from one handler to another inside one organisation
    if a.to.org == item.owner_org:
        return [Refusal(None, "送付元への返却は `courier return` で記録してください。",
                        "record a hand-back to the sending organisation with `courier return`.")]
    if a.frm.org != item.owner_org or a.to.org != rules.recipient_org:
        return [Refusal(
            Kind.UNAPPROVED_RECIPIENT,
            f"「{a.to.org}」はこの受け渡しの提供先ではありません。提供先（{rules.recipient_org}）にだけ渡せます。",
            f"'{a.to.org}' is not the recipient of this transfer; items go to '{rules.recipient_org}' only.",
        )]
    return []


def _means(a: Attempt, rules: Rules, item: Item) -> list[Refusal]:
    if a.frm is not None and a.to is not None and a.frm.org == a.to.org:
        allowed = frozenset({"hand"})  # inside one organisation nothing else makes sense
    else:
        allowed = rules.media_means if item.kind == "media" else rules.notice_means
    means = a.means or "hand"
    if means in allowed:
        return []
    names = "、".join(MEANS.get(m, m) for m in sorted(allowed))
    return [Refusal(
        Kind.UNAPPROVED_CHANNEL,
        f"{ITEM_LABELS[item.kind]}の受渡し方法「{MEANS.get(means, means)}」は認められていません。認められた方法: {names}",
        f"{item.kind} may not change hands by '{means}'; allowed: {', '.join(sorted(allowed))}.",
    )]


def _separation(a: Attempt, rules: Rules, history: History) -> list[Refusal]:
    """Notice and media apart: not on one JST day, not in one courier run, not in one cabinet."""
    out: list[Refusal] = []
    mine = a.item
    others = [i for i in history.items.values() if i.kind != mine.kind and i.transfer == mine.transfer]
    if rules.other_day and crosses(a):
        day = to_jst(a.at).date()
        for other in others:
            for r in history.of(other.id):
                if not crosses(r) or r.to is None or a.to is None or r.to.org != a.to.org:
                    continue
                same_day = to_jst(r.at).date() == day
                same_run = a.run is not None and r.run is not None and _norm(a.run) == _norm(r.run)
                if same_day or same_run:
                    how = "同じ便" if same_run and not same_day else f"同じ日（{day:%Y-%m-%d}）"
                    how_en = "in the same courier run" if same_run and not same_day else f"on the same JST day ({day})"
                    out.append(Refusal(
                        Kind.PASSWORD_SAME_DAY,
                        f"{ITEM_LABELS[other.kind]}「{other.id}」が{how}に {r.to.org} へ渡されています。"
                        "媒体とパスワード通知書は別の日に受け渡してください。",
                        f"{other.kind} '{other.id}' went to {r.to.org} {how_en}; media and password notice "
                        "must change hands on different days.",
                    ))
                    return out
    if a.to is not None and a.cabinet:
        for other in others:
            there = holding(other, history.of(other.id))
            if there.holder is not None and there.holder.org == a.to.org and same_cabinet(there.cabinet, a.cabinet):
                out.append(Refusal(
                    Kind.PASSWORD_SAME_CHANNEL,
                    f"キャビネット「{a.cabinet}」には{ITEM_LABELS[other.kind]}「{other.id}」が保管されています。"
                    "媒体とパスワード通知書は別の鍵付キャビネットに保管してください。",
                    f"cabinet '{a.cabinet}' already holds {other.kind} '{other.id}'; media and password notice "
                    "must be kept in separate locked cabinets.",
                ))
                break
    return out


@dataclass(frozen=True)
class LossAssessment:
    """The incident report's assessment (seed 000/002: content, count, place, circumstances, and
    what the loss exposes). The media hold an age package (scrypt passphrase): without the notice
    they cannot be read, so where the notice was is what decides the risk, and the other way round."""

    lost_kind: str
    media_encrypted: bool
    counterparts: tuple[dict[str, object], ...]  # where each item of the other kind was at the time
    together: bool  # the other kind was with the same person or in the same cabinet, or lost too

    @property
    def summary_ja(self) -> str:
        if self.together:
            return ("媒体は暗号化されていましたが、パスワード通知書（又は媒体）が同じ保管者・同じキャビネットにあったか"
                    "同時に紛失しているため、内容が読まれたおそれを否定できません。")
        if self.lost_kind == "media":
            return ("媒体は暗号化されており（age 形式、パスワードによる暗号化）、パスワード通知書は別の保管者・"
                    "キャビネットにあったため、内容が読まれるおそれは低いと評価します。")
        return ("パスワード通知書を紛失しましたが、媒体は別の保管者・キャビネットにあり暗号化されているため、"
                "内容が読まれるおそれは低いと評価します。パスワードの再発行（再送付）を検討してください。")

    @property
    def summary_en(self) -> str:
        if self.together:
            return "the media was encrypted, but its counterpart was with the same holder or cabinet, or lost too"
        return "the media was encrypted and its counterpart was kept apart: the risk of disclosure is low"

    def to_dict(self) -> dict[str, object]:
        return {"lost_item_kind": self.lost_kind, "media_encrypted": self.media_encrypted,
                "encryption": "age v1, scrypt passphrase recipient", "counterparts": list(self.counterparts),
                "counterpart_with_lost_item": self.together, "summary_ja": self.summary_ja,
                "summary": self.summary_en}


def assess_loss(lost: Item, at: datetime, history: History, holder: Holding) -> LossAssessment:
    """Where the other kind of item (notice for media, media for a notice) was when `lost` was lost."""
    other_kind = "notice" if lost.kind == "media" else "media"
    places: list[dict[str, object]] = []
    together = False
    for other in history.items.values():
        if other.kind != other_kind or other.transfer != lost.transfer:
            continue
        there = holding_at(other, history.of(other.id), at)
        places.append({"item": other.id, "kind": other.kind, "lost": there.lost, "cabinet": there.cabinet,
                       "holder": None if there.holder is None else
                       {"person": there.holder.person, "org": there.holder.org}})
        if there.lost:
            together = True
        elif there.holder is not None and holder.holder is not None and (
                there.holder == holder.holder
                or (there.holder.org == holder.holder.org and same_cabinet(there.cabinet, holder.cabinet))):
            together = True
    return LossAssessment(lost.kind, True, tuple(places), together)
