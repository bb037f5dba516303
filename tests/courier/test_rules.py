"""The pure custody rules (gateway/core/custody.py), without a database."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from gateway.core.custody import Attempt, History, Item, Party, Record, Rules, assess_loss, holding, judge

JST = timezone(timedelta(hours=9))
CITY, PRINTER = Party("w.kato", "shinjuku"), Party("r.shimizu", "kandagawa-print")
OTHER = Party("c.okada", "kandagawa-print")
RULES = Rules(recipient_org="kandagawa-print", media_means=frozenset({"hand"}),
              notice_means=frozenset({"hand", "registered-mail"}), return_days=30)


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2020, 6, day, hour, tzinfo=JST)


MEDIA = Item("CD-1", "media", "T1", "shinjuku", 1, CITY, at(1, 9))
NOTICE = Item("N-T1", "notice", "T1", "shinjuku", 1, CITY, at(1, 9))


def attempt(item: Item, frm: Party, to: Party, when: datetime, **kw) -> Attempt:
    return Attempt(item=item, event=kw.pop("event", "handover"), frm=frm, to=to, at=when,
                   quantity=kw.pop("quantity", 1), cabinet=kw.pop("cabinet", "金庫"), means=kw.pop("means", "hand"),
                   run=kw.pop("run", None), now=kw.pop("now", at(30)))


def history(*records: Record) -> History:
    by: dict[str, list[Record]] = {"CD-1": [], "N-T1": []}
    for r in records:
        by[r.item].append(r)
    return History({"CD-1": MEDIA, "N-T1": NOTICE}, by)


MEDIA_OUT = Record("CD-1", "handover", CITY, PRINTER, at(1, 14), 1, "媒体金庫")


def kinds(j) -> list[str]:
    return [r.kind for r in j.refusals]


def test_holder_after_a_sequence_of_events():
    back = Record("CD-1", "return", PRINTER, CITY, at(9), 1, "区金庫")
    assert holding(MEDIA, []).holder == CITY
    assert holding(MEDIA, [MEDIA_OUT]).holder == PRINTER and holding(MEDIA, [MEDIA_OUT]).cabinet == "媒体金庫"
    assert holding(MEDIA, [MEDIA_OUT, back]).holder == CITY
    lost = Record("CD-1", "lost", PRINTER, None, at(3), 1)
    assert holding(MEDIA, [MEDIA_OUT, lost]).lost


def test_a_hand_over_sets_the_return_deadline():
    j = judge(attempt(MEDIA, CITY, PRINTER, at(1, 14)), RULES, history())
    assert j.allowed and j.return_due == at(1, 14) + timedelta(days=30)
    internal = judge(attempt(MEDIA, PRINTER, OTHER, at(2)), RULES, history(MEDIA_OUT))
    assert internal.allowed and internal.return_due is None


def test_only_the_holder_in_time_order_with_the_right_quantity():
    h = history(MEDIA_OUT)
    assert kinds(judge(attempt(MEDIA, CITY, OTHER, at(2)), RULES, h))[0] == "custody-gap"
    assert "custody-gap" in kinds(judge(attempt(MEDIA, PRINTER, OTHER, at(1, 13)), RULES, h))
    assert kinds(judge(attempt(MEDIA, PRINTER, OTHER, at(2), quantity=2), RULES, h)) == [None]


def test_password_notice_not_on_the_media_day_nor_in_its_run():
    h = history(MEDIA_OUT)
    assert kinds(judge(attempt(NOTICE, CITY, PRINTER, at(1, 23), cabinet="通知書"), RULES, h)) == ["password-same-day"]
    # Midnight JST is the boundary, not midnight UTC.
    assert judge(attempt(NOTICE, CITY, PRINTER, datetime(2020, 6, 1, 15, 0, tzinfo=UTC),
                         cabinet="通知書"), RULES, h).allowed
    run = history(Record("CD-1", "handover", CITY, PRINTER, at(1, 14), 1, "媒体金庫", run="BIN-1"))
    assert kinds(judge(attempt(NOTICE, CITY, PRINTER, at(2), cabinet="通知書", run="bin-1"), RULES, run)) == \
        ["password-same-day"]
    # The other way round too: media on the day the notice went.
    notice_first = history(Record("N-T1", "handover", CITY, PRINTER, at(1, 9), 1, "通知書"))
    assert kinds(judge(attempt(MEDIA, CITY, PRINTER, at(1, 17)), RULES, notice_first)) == ["password-same-day"]


def test_separate_cabinets_for_media_and_notice():
    h = history(MEDIA_OUT)
    assert kinds(judge(attempt(NOTICE, CITY, PRINTER, at(2), cabinet="媒体 金庫"), RULES, h)) == ["password-same-channel"]
    assert judge(attempt(NOTICE, CITY, PRINTER, at(2), cabinet="通知書キャビネット"), RULES, h).allowed


def test_direction_means_and_returns():
    h = history(MEDIA_OUT)
    stranger = Party("z.z", "elsewhere")
    assert kinds(judge(attempt(MEDIA, CITY, stranger, at(1, 14)), RULES, history())) == ["unapproved-recipient"]
    assert kinds(judge(attempt(MEDIA, CITY, PRINTER, at(1, 14), means="registered-mail"), RULES, history())) == \
        ["unapproved-channel"]
    assert judge(attempt(MEDIA, PRINTER, CITY, at(9), event="return"), RULES, h).allowed
    assert kinds(judge(attempt(MEDIA, PRINTER, CITY, at(9)), RULES, h)) == [None]  # a hand-back is a return


def test_loss_assessment_says_where_the_notice_was():
    notice_kept = history(MEDIA_OUT)
    a = assess_loss(MEDIA, at(3), notice_kept, holding(MEDIA, [MEDIA_OUT]))
    assert a.media_encrypted and not a.together and a.counterparts[0]["holder"] == {"person": "w.kato", "org": "shinjuku"}
    both = history(MEDIA_OUT, Record("N-T1", "handover", CITY, PRINTER, at(2), 1, "通知書"))
    a = assess_loss(MEDIA, at(3), both, holding(MEDIA, [MEDIA_OUT]))
    assert a.together and "否定できません" in a.summary_ja
