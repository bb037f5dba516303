"""The gateway and the auditor speak one vocabulary of finding kinds, kept in two copies on purpose
(the auditor must not import the gateway): a kind added, renamed or re-classed on one side only
would make the gateway log what the auditor cannot name, or the reverse."""
from __future__ import annotations

from audit import kinds as auditor
from gateway import findings as gateway
from gateway.simulate.faults import KINDS
from tests.conftest import REPO


def test_the_same_kinds_in_the_same_order():
    assert [k.value for k in gateway.Kind] == sorted(auditor.PREVENTED_KINDS, key=list(auditor.KIND_LABELS).index) \
        + list(auditor.AFTER_THE_FACT_KINDS)
    assert set(auditor.KIND_LABELS) == {k.value for k in gateway.Kind}


def test_the_same_classes():
    assert auditor.PREVENTED_KINDS == {k.value for k in gateway.PREVENTED}
    assert set(auditor.AFTER_THE_FACT_KINDS) == {k.value for k in gateway.AFTER_THE_FACT}
    assert auditor.WARNING_KINDS == {k.value for k in gateway.WARNINGS}
    assert auditor.GATEWAY_FAULT_KINDS == {k.value for k in gateway.GATEWAY_FAULTS}


def test_every_kind_has_a_japanese_label():
    assert all(label and not label.isascii() for label in auditor.KIND_LABELS.values())


def test_every_kind_can_be_injected_and_is_documented():
    assert set(KINDS) == {k.value for k in gateway.Kind}
    doc = (REPO / "docs" / "interface.md").read_text(encoding="utf-8")
    for kind in gateway.Kind:
        assert f"`{kind.value}`" in doc, kind
