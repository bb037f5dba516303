"""Approval files: the shipped seed approvals load; every defect is refused with file and key."""
from __future__ import annotations

from pathlib import Path

import pytest

from gateway.core.approvals import load_approval
from gateway.core.profiles import load_profiles
from gateway.core.tomlfile import DefinitionError

DATA = Path(__file__).parent / "data"
APPROVALS = Path(__file__).resolve().parents[1] / "gateway" / "data" / "simulations" / "approvals"
BASIC = (DATA / "approval-basic.toml").read_text(encoding="utf-8")


def test_every_shipped_approval_loads_and_uses_shipped_profiles():
    profiles = load_profiles()
    files = sorted(APPROVALS.glob("*.toml"))
    assert len(files) >= 5, "one approval per seed flow"
    for f in files:
        a = load_approval(f)
        assert a.id == f.stem
        assert set(a.profiles) <= set(profiles), f
        assert a.recipients


def test_seed_flows_are_all_present():
    ids = {load_approval(f).id for f in APPROVALS.glob("*.toml")}
    for prefix in ("kurume-2020", "kurume-2021", "komae-2015", "shinjuku-2020-teigaku", "shinjuku-2020-nhi"):
        assert any(i.startswith(prefix) for i in ids), prefix


def test_shipped_bad_examples_are_refused():
    bad = sorted((APPROVALS / "bad").glob("*.toml"))
    assert bad
    for f in bad:
        with pytest.raises(DefinitionError):
            load_approval(f)


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "approval.toml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    "old,new,names",
    [
        ("max_records = 100", "max_record = 100", "did you mean 'data.max_record'"),  # a typo
        ("population = \"テスト対象者\"", "population = \"テスト対象者\"\ncolour = 1", "unknown keys: data.colour"),
        ('fields = ["name", "birth_date", "address", "postal_code"]\n', "", "data.fields"),  # missing
        ("end = 2020-08-31", "end = 2020-05-01", "period"),  # end before start
        ('role = "responsible"', 'role = "handler"', "responsible"),  # no responsible handler
        ('required_certifications = ["privacy-mark"]', 'required_certifications = ["iso27001"]', "iso27001"),
        ('decision = "approved-with-conditions"', 'decision = "maybe"', "council.decision"),
        ('"postal_code"]', '"postal_code", "favourite_colour"]', "favourite_colour"),
        ("value = 5", "value = -1", "gateway-retention-max-days"),
        ("gateway_days = 5", "gateway_days = 9", "gateway_days"),  # contradicts its own condition
    ],
)
def test_defects_are_refused_naming_file_and_key(tmp_path, old, new, names):
    assert old in BASIC
    path = write(tmp_path, BASIC.replace(old, new, 1))
    with pytest.raises(DefinitionError) as err:
        load_approval(path)
    message = str(err.value)
    ja, en = message.split("\n", 1)
    assert str(path) in ja and str(path) in en
    assert names in message


def test_not_toml_and_not_utf8(tmp_path):
    p = tmp_path / "a.toml"
    p.write_text("id = [unclosed", encoding="utf-8")
    with pytest.raises(DefinitionError, match="TOML"):
        load_approval(p)
    p.write_bytes("id = 'テスト'".encode("cp932"))
    with pytest.raises(DefinitionError, match="UTF-8"):
        load_approval(p)


def test_date_end_covers_the_whole_day_and_datetime_end_its_last_second(tmp_path):
    a = load_approval(write(tmp_path, BASIC))
    assert a.period_end.isoformat() == "2020-09-01T00:00:00+09:00"
    b = load_approval(write(tmp_path, BASIC.replace("end = 2020-08-31", "end = 2020-08-31T23:59:59+09:00")))
    assert b.period_end == a.period_end


@pytest.mark.parametrize(("old", "new", "says"), [
    ('payload = "opaque"\n', 'payload = "opaque"\nmedia_types = []\n', "media_types"),
    ('erasure_locations = ["現行サーバ", "変換サーバ", "外付ハードディスクドライブ"]',
     'erasure_locations = ["現行サーバ", "現行サーバ"]', "erasure_locations"),
    ('media_closure = "erase"', 'media_closure = "keep"', "media_closure"),
])
def test_issue_21_keys_that_contradict_themselves_are_refused(old, new, says):
    from gateway.core.approvals import parse_approval_text
    from gateway.core.tomlfile import DefinitionError

    name = "kurume-2021-ai-ocr.toml" if "payload" in old else "kurume-2021-gis-hdd.toml"
    text = (APPROVALS / name).read_text(encoding="utf-8")
    if "media_types = []" in new:
        text = text.replace('media_types = ["application/pdf"]\n', "")
    assert old in text
    with pytest.raises(DefinitionError) as err:
        parse_approval_text(text.replace(old, new), name)
    assert says in str(err.value)
