"""decide(): each refusal kind at its boundary, and every reason reported at once."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.clock import JST
from gateway.core.approvals import load_approval
from gateway.core.policy import HandOver, decide
from gateway.core.profiles import load_profiles

DATA = Path(__file__).parent / "data"
APPROVAL = load_approval(DATA / "approval-basic.toml")
PROFILES = load_profiles()
FIRST_SECOND = datetime(2020, 5, 15, 0, 0, 0, tzinfo=JST)
LAST_SECOND = datetime(2020, 8, 31, 23, 59, 59, tzinfo=JST)


def hand_over(**changes) -> HandOver:
    base = HandOver(
        approval=APPROVAL,
        profile=PROFILES["lgwan-asp"],
        sender_org="testcity",
        sender_role="staff",
        recipient="printer",
        at=datetime(2020, 6, 1, 10, 0, tzinfo=JST),
        columns=("name", "birth_date", "address", "postal_code"),
        record_count=100,
    )
    return replace(base, **changes)


def test_allowed_within_every_bound():
    d = decide(hand_over())
    assert d.allowed and d.refusals == () and d.records_to_send == 100


@pytest.mark.parametrize("at", [FIRST_SECOND, LAST_SECOND, LAST_SECOND + timedelta(microseconds=999_999)])
def test_period_includes_first_and_last_second(at):
    assert decide(hand_over(at=at)).allowed


@pytest.mark.parametrize("at", [FIRST_SECOND - timedelta(microseconds=1), LAST_SECOND + timedelta(seconds=1)])
def test_outside_period(at):
    assert decide(hand_over(at=at)).kinds == ("outside-period",)


def test_period_is_judged_in_jst_not_utc():
    # 2020-05-14 15:00 UTC is 2020-05-15 00:00 JST: the first second of the period.
    assert decide(hand_over(at=datetime(2020, 5, 14, 15, 0, tzinfo=UTC))).allowed
    assert decide(hand_over(at=datetime(2020, 5, 14, 14, 59, 59, tzinfo=UTC))).kinds == ("outside-period",)


def test_record_limit_and_limit_plus_one():
    assert decide(hand_over(record_count=100)).allowed
    d = decide(hand_over(record_count=101))
    assert d.kinds == ("over-record-limit",)
    assert "101" in d.refusals[0].en and "100" in d.refusals[0].en


def test_removed_persons_do_not_count_against_the_limit():
    d = decide(hand_over(record_count=103, excluded={"dv-evacuee": 3}))
    assert d.allowed and d.remove == {"dv-evacuee"} and d.records_to_send == 100


def test_unapproved_field_names_the_column():
    d = decide(hand_over(columns=("name", "birth_date", "address", "postal_code", "account_number")))
    assert d.kinds == ("unapproved-field",)
    assert "口座番号" in d.refusals[0].ja and "account_number" in d.refusals[0].en


def test_exclusion_flag_column_is_not_an_unapproved_field():
    assert decide(hand_over(columns=("name", "birth_date", "address", "postal_code", "exclusion"))).allowed


def test_excluded_person_refused_when_the_approval_says_refuse():
    d = decide(hand_over(excluded={"abuse-victim": 1}))
    assert d.kinds == ("excluded-person",)
    assert d.refusals[0].ja.startswith("提供してはならない")


def test_flagged_population_the_approval_does_not_exclude_is_sent():
    d = decide(hand_over(excluded={"child-in-care": 2}))
    assert d.allowed and d.remove == frozenset()


def test_unapproved_recipient():
    assert decide(hand_over(recipient="someone-else")).kinds == ("unapproved-recipient",)


def test_relay_to_an_approved_subcontractor_only():
    relay = dict(profile=PROFILES["subcontract-courier"], sender_org="printer", sender_role="contractor",
                 channel="courier")
    assert decide(hand_over(recipient="enclosing", **relay)).allowed
    assert decide(hand_over(recipient="unknown-shop", **relay)).kinds == ("unapproved-recipient",)


def test_unapproved_channel():
    assert decide(hand_over(profile=PROFILES["vpn-sftp"])).kinds == ("unapproved-channel",)
    assert decide(hand_over(channel="vpn-sftp")).kinds == ("unapproved-channel",)


def test_password_never_with_the_data():
    assert decide(hand_over(password_delivery="registered-mail")).allowed
    assert decide(hand_over(password_delivery="lgwan-asp")).kinds == ("password-same-channel",)
    assert decide(hand_over(password_delivery="with-data")).kinds == ("password-same-channel",)


def test_deferred_approval_permits_nothing():
    deferred = replace(APPROVAL, decision="deferred")
    d = decide(hand_over(approval=deferred))
    assert not d.allowed and "unapproved-transfer" in d.kinds


def test_contractor_cannot_send_as_the_city():
    # Who may send at all is the profile's rule, not a council's: refused, with no finding kind.
    d = decide(hand_over(sender_role="contractor"))
    assert not d.allowed and d.kinds == () and [r.kind for r in d.refusals] == [None]


def test_every_reason_is_reported_at_once():
    d = decide(hand_over(
        at=LAST_SECOND + timedelta(days=1),
        recipient="someone-else",
        columns=("name", "account_number"),
        record_count=500,
        excluded={"abuse-victim": 2},
        profile=PROFILES["vpn-sftp"],
    ))
    assert set(d.kinds) == {
        "unapproved-channel", "unapproved-recipient", "outside-period",
        "unapproved-field", "excluded-person", "over-record-limit",
    }
    for r in d.refusals:
        assert r.ja and r.en  # Japanese first, English second, for every reason
