"""The officer's log (issue 23, item 1): every entry about the city, administration included, in
Japan time, paged, filtered, exported as the filtered view, each entry with its evidence and its
place in the chain; another city's entries stay out and are named as such rather than left a gap."""
from __future__ import annotations

import csv
import html
import io
import json
import re
import tarfile

from sqlalchemy import select

from gateway.store import models as m
from tests.portal.conftest import Portal

JST_WORDS = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}")


def seq_of(portal: Portal, action: str, subject_org: str) -> int:
    with portal.gw.read() as s:
        seq = s.scalar(select(m.LogEntry.seq).where(m.LogEntry.action == action, m.LogEntry.subject_org == subject_org)
                       .order_by(m.LogEntry.seq))
    assert seq is not None, (action, subject_org)
    return seq


def rows_of(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<a href="/officer/entry/(\d+)"', html)]


def test_the_log_shows_the_citys_administration_in_jst_and_names_other_cities_runs(
        portal: Portal, kurume_transfer: dict) -> None:
    c = portal.login("sec.officer")
    r = c.get("/officer", params={"limit": "5000"})
    assert r.status_code == 200
    shown = rows_of(r.text)
    kurume_user = seq_of(portal, "user.add", "kurume")
    shinjuku_user = seq_of(portal, "user.add", "shinjuku")
    kurume_terminal = seq_of(portal, "terminal.issue", "kurume")
    assert kurume_user in shown and kurume_terminal in shown and 1 in shown  # 1: the installation's init
    assert shinjuku_user not in shown
    assert "利用者の登録" in r.text and "端末証明書の発行" in r.text and "user.add" in r.text
    # No silent gap: every number between the newest and the oldest shown is a row or in a run
    # the page names as another city's.
    gaps = [(int(a), int(b or a)) for a, b in re.findall(r'<tr class="gap"><td>(\d+)(?:–(\d+))?</td>', r.text)]
    covered = set(shown) | {n for a, b in gaps for n in range(a, b + 1)}
    assert covered == set(range(min(shown), max(shown) + 1))
    assert any(a <= shinjuku_user <= b for a, b in gaps)
    assert "あなたの市に関係しない記録" in r.text
    assert JST_WORDS.search(r.text)
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+Z", r.text)


def test_paging_past_the_page_size_and_filters_that_match(portal: Portal, kurume_transfer: dict) -> None:
    c = portal.login("sec.officer")
    first = c.get("/officer", params={"limit": "3", "action": "user."})
    second = c.get("/officer", params={"limit": "3", "action": "user.", "page": "2"})
    assert first.status_code == second.status_code == 200
    a, b = rows_of(first.text), rows_of(second.text)
    assert len(a) == 3 and b and max(b) < min(a)
    assert 'id="page-older"' in first.text and 'aria-current="page"' in first.text
    assert 'page=2' in first.text and "action=user." in first.text
    everything = rows_of(c.get("/officer", params={"action": "user."}).text)
    assert a + b == everything[:len(a) + len(b)]
    with portal.gw.read() as s:
        actions = dict(s.execute(select(m.LogEntry.seq, m.LogEntry.action).where(m.LogEntry.seq.in_(everything))).all())
    assert {actions[n].split(".")[0] for n in everything} == {"user"}
    # The organisation filter matches the organisation an administrative act concerned.
    by_org = rows_of(c.get("/officer", params={"org": "kurume", "action": "terminal.issue"}).text)
    assert seq_of(portal, "terminal.issue", "kurume") in by_org
    # A page size over 500 is capped on the page (the export takes the whole view).
    assert len(rows_of(c.get("/officer", params={"limit": "5000"}).text)) <= 500


def test_csv_and_json_lines_export_the_filtered_view_and_the_export_is_logged(
        portal: Portal, kurume_transfer: dict) -> None:
    c = portal.login("sec.officer")
    view = rows_of(c.get("/officer", params={"action": "user.", "limit": "500"}).text)
    r = c.get("/officer/log.csv", params={"action": "user."})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert table[0][:3] == ["seq", "at_jst", "at"]
    assert sorted(int(row[0]) for row in table[1:]) == sorted(view)
    assert all(JST_WORDS.fullmatch(row[1]) for row in table[1:])
    lines = c.get("/officer/log.jsonl", params={"action": "user."})
    assert lines.status_code == 200
    entries = [json.loads(line) for line in lines.text.splitlines()]
    assert sorted(e["seq"] for e in entries) == sorted(view)
    assert all(e["action"].startswith("user.") for e in entries)
    assert c.get("/officer/log.xml").status_code == 404
    exports = rows_of(c.get("/officer", params={"action": "log.export", "actor": "sec.officer"}).text)
    assert len(exports) >= 2


def test_an_entrys_page_shows_its_evidence_and_place_in_the_chain(portal: Portal, kurume_transfer: dict) -> None:
    c = portal.login("sec.officer")
    with portal.gw.read() as s:
        seq, body = s.execute(select(m.LogEntry.seq, m.LogEntry.body).where(
            m.LogEntry.transfer_id == kurume_transfer["transfer"], m.LogEntry.action == "transfer.send")).one()
    entry = json.loads(body)
    assert entry["evidence"]
    r = c.get(f"/officer/entry/{seq}")
    assert r.status_code == 200
    assert entry["evidence"]["id"] in r.text and entry["evidence"]["sha256"] in r.text
    assert 'id="evidence-document"' in r.text and '"signature"' in html.unescape(r.text)
    assert entry["prev"] in r.text and f"{seq} / " in r.text
    assert c.get(f"/officer/entry/{seq_of(portal, 'user.add', 'shinjuku')}").status_code == 404
    assert c.get("/officer/entry/abc").status_code == 404


def test_the_report_page_says_the_verdict_in_words_and_links_the_report_and_bundle(
        portal: Portal, kurume_transfer: dict) -> None:
    c = portal.login("sec.officer")
    r = c.get("/officer/report", params={"approval": "kurume-2020-teigaku"})
    assert r.status_code == 200
    assert 'data-verified="true"' in r.text and "検証済み" in r.text and "検証結果: True" not in r.text
    assert 'id="trust"' in r.text and "必要数" in r.text
    page = c.get("/officer/report/html", params={"approval": "kurume-2020-teigaku"})
    assert page.status_code == 200 and "<html" in page.text.lower()
    bundle = c.get("/officer/report/bundle", params={"approval": "kurume-2020-teigaku"})
    assert bundle.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(bundle.content), mode="r:gz") as tar:
        names = tar.getnames()
    assert any(n.endswith("/MANIFEST.json") for n in names), names[:10]
    assert c.get("/officer/report/bundle", params={"approval": "shinjuku-2020-teigaku"}).status_code == 404
