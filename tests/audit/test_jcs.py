"""The auditor's own RFC 8785 canonical JSON, and the log's fast path agreeing with the slow one."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import jcs
from audit.chain import _FAST_ENTRY, _FAST_REDACTED, entry_problem


def test_rfc8785_key_order_is_utf16() -> None:
    # RFC 8785 section 3.2.3's sorting example: the emoji (a surrogate pair) sorts before U+FB33.
    value = {"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
             "1": "One", "\U0001f600": "Emoji: Grinning Face", "\u0080": "Control",
             "\u00f6": "Latin Small Letter O With Diaeresis"}
    keys = list(json.loads(jcs.canonical(value)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_rfc8785_string_escapes() -> None:
    assert jcs.canonical("\u0000\b\t\n\f\r\u001f\"\\/\u007f\u00e9\u2028") == \
        '"\\u0000\\b\\t\\n\\f\\r\\u001f\\"\\\\/\u007f\u00e9\u2028"'.encode()


def test_rfc8785_structure() -> None:
    assert jcs.canonical({"b": [1, True, None, -5], "a": {"z": "", "y": 0}}) == \
        b'{"a":{"y":0,"z":""},"b":[1,true,null,-5]}'


@pytest.mark.parametrize("value", [1.5, 2**53, -(2**53), float("nan"), "\ud800", {1: 2}, object()])
def test_outside_the_subset_is_refused(value: object) -> None:
    with pytest.raises(jcs.CanonicalError):
        jcs.canonical(value)


@pytest.mark.parametrize("text", [b'{"a":1,"a":2}', b"1.0", b"1e3", b"NaN", b"[" * 10000, b'"\xff"',
                                  b"9007199254740992", b"{", b""])
def test_strict_parse_refuses(text: bytes) -> None:
    with pytest.raises(jcs.ParseError):
        jcs.loads(text)


def test_noncanonical_line_is_reported_with_its_canonical_form() -> None:
    value, canon = jcs.loads_canonical_line(b'{"b":1, "a":"\\u00e9"}')
    assert canon == '{"a":"é","b":1}'.encode()
    assert jcs.loads_canonical_line('{"a":"é","b":1}'.encode())[1] is None


text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=("Cs",)), max_size=12)
opt = st.none() | text
entries = st.fixed_dictionaries({
    "seq": st.integers(1, 2**53 - 1), "at": st.just("2020-05-15T01:00:00.000000Z"),
    "actor": st.fixed_dictionaries({"user": opt, "org": opt, "role": opt, "terminal": opt, "ssh_key": opt}),
    "source": opt, "channel": st.sampled_from(["lgwan-asp", "vpn-sftp", "courier", "hotfolder", "cli", "system"]),
    "action": text.filter(bool),
    "object": st.fixed_dictionaries({"approval": opt, "transfer": opt, "blob_sha256": opt}),
    "outcome": st.just("refused"), "kinds": st.lists(text, max_size=3), "reason": opt,
    "evidence": st.none() | st.fixed_dictionaries({"id": text.filter(bool), "sha256": st.just("ab" * 32)}),
    "prev": st.just("0" * 64),
})


@settings(max_examples=300, deadline=None)
@given(entries)
def test_fast_path_accepts_every_canonical_entry(entry: dict) -> None:
    line = jcs.canonical(entry)
    assert _FAST_ENTRY(line) is not None
    assert entry_problem(json.loads(line)) is None


@settings(max_examples=500, deadline=None)
@given(entries, st.integers(0), st.binary(min_size=1, max_size=3), st.integers(0, 3))
def test_fast_path_never_accepts_what_the_slow_path_rejects(entry: dict, pos: int, patch: bytes, drop: int) -> None:
    """Mutated lines: whatever the regex accepts must be canonical and well-formed."""
    line = jcs.canonical(entry)
    i = pos % len(line)
    mutated = line[:i] + patch + line[i + drop:]
    for fast in (_FAST_ENTRY, _FAST_REDACTED):
        if fast(mutated) is None:
            continue
        try:
            mutated.decode("utf-8")
        except UnicodeDecodeError:
            continue  # the verifier checks UTF-8 separately before trusting the match
        value, canon = jcs.loads_canonical_line(mutated)
        assert canon is None, mutated
        if fast is _FAST_ENTRY:
            assert entry_problem(value) is None
