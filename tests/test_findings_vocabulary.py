"""One vocabulary of finding kinds: the gateway's (gateway/findings.py), the auditor's own copy
(audit/findings.py), the simulator's faults and docs/interface.md say the same."""
from __future__ import annotations

from audit import findings as audit_findings
from gateway import findings
from gateway.simulate.faults import KINDS
from tests.conftest import REPO


def test_the_auditor_keeps_the_same_kinds_and_severities() -> None:
    assert set(audit_findings.PREVENTED_KINDS) == {k.value for k in findings.PREVENTED}
    assert set(audit_findings.AFTER_THE_FACT_KINDS) == {k.value for k in findings.AFTER_THE_FACT}
    assert set(audit_findings.WARNING_KINDS) == {k.value for k in findings.WARNINGS}
    assert set(audit_findings.KIND_LABELS) == {k.value for k in findings.Kind}


def test_every_kind_can_be_injected_and_is_documented() -> None:
    assert set(KINDS) == {k.value for k in findings.Kind}
    doc = (REPO / "docs" / "interface.md").read_text(encoding="utf-8")
    for kind in findings.Kind:
        assert f"`{kind.value}`" in doc, kind
