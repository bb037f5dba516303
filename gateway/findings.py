"""The finding kinds: one vocabulary for the faults a simulation injects, the refusals the gateway
logs and the findings the auditor reports (docs/interface.md, "Finding kinds").

`audit/kinds.py` keeps its own copy on purpose, because the auditor must not import the gateway;
tests/test_findings_vocabulary.py asserts that the two are equal.
"""
from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    # Refused by the gateway: logged with the refusal, reported with "prevented": true.
    UNAPPROVED_FIELD = "unapproved-field"
    EXCLUDED_PERSON = "excluded-person"
    OUTSIDE_PERIOD = "outside-period"
    UNAPPROVED_RECIPIENT = "unapproved-recipient"
    UNAPPROVED_CHANNEL = "unapproved-channel"
    OVER_RECORD_LIMIT = "over-record-limit"
    NON_DESIGNATED_HANDLER = "non-designated-handler"
    PASSWORD_SAME_CHANNEL = "password-same-channel"
    PASSWORD_SAME_DAY = "password-same-day"
    BRUTE_FORCE = "brute-force"
    ACCESS_AFTER_DELETION = "access-after-deletion"
    # An attestation dated before what it attests: an erasure before the city approved the
    # request, a receipt before the download it confirms.
    ATTESTATION_OUT_OF_ORDER = "attestation-out-of-order"
    # A send that needed a second person's check released without one: a download of a held
    # package, or its sender approving it. The auditor also reports one it finds released.
    SECOND_CHECK_MISSING = "second-check-missing"
    # A download past the transfer's limit (its complete downloads, or its retries of broken ones).
    DOWNLOAD_OVER_LIMIT = "download-over-limit"
    # Found after the fact, from the evidence.
    RECEIPT_MISMATCH = "receipt-mismatch"
    RECEIPT_MISSING = "receipt-missing"
    DELETION_OVERDUE = "deletion-overdue"
    GATEWAY_RETENTION_OVERRUN = "gateway-retention-overrun"
    MEDIA_NOT_RETURNED = "media-not-returned"
    CUSTODY_GAP = "custody-gap"
    UNAPPROVED_TRANSFER = "unapproved-transfer"
    LOG_TAMPERED = "log-tampered"
    EVIDENCE_FORGED = "evidence-forged"
    # The gateway's own failure: a package it still held the key for was missing or corrupted on
    # its disk. Logged with the download it stopped, but never the downloader's doing.
    INTEGRITY_FAILURE = "integrity-failure"
    # Entries past the last checkpoint a quorum of the verifier's witnesses cosigned (issue 17).
    LOG_UNWITNESSED = "log-unwitnessed"
    # A duty of the contract (an on-site inspection, a training report, a pledge) with no record
    # by its due date (issue 21, the contract compliance ledger).
    COMPLIANCE_OVERDUE = "compliance-overdue"
    # The city's instruction on an incident (甲の指示) not carried out by its deadline.
    INSTRUCTION_OVERDUE = "instruction-overdue"
    # An incident the city knew of whose report the contractor never filed by its deadline.
    INCIDENT_UNREPORTED = "incident-unreported"


PREVENTED = frozenset({
    Kind.UNAPPROVED_FIELD, Kind.EXCLUDED_PERSON, Kind.OUTSIDE_PERIOD, Kind.UNAPPROVED_RECIPIENT,
    Kind.UNAPPROVED_CHANNEL, Kind.OVER_RECORD_LIMIT, Kind.NON_DESIGNATED_HANDLER, Kind.PASSWORD_SAME_CHANNEL,
    Kind.PASSWORD_SAME_DAY, Kind.BRUTE_FORCE, Kind.ACCESS_AFTER_DELETION, Kind.ATTESTATION_OUT_OF_ORDER,
    Kind.SECOND_CHECK_MISSING, Kind.DOWNLOAD_OVER_LIMIT,
})
AFTER_THE_FACT = frozenset(Kind) - PREVENTED
# Everything else is a violation: what was attempted or found broke a rule of the approval.
# A warning, not a violation: a witness may simply have been down; nothing says the log was altered.
# A missed duty is a warning: the record may be late on paper, and the council's report says so.
WARNINGS = frozenset({Kind.RECEIPT_MISSING, Kind.MEDIA_NOT_RETURNED, Kind.LOG_UNWITNESSED, Kind.COMPLIANCE_OVERDUE})
# The gateway's own failures, logged with the attempt they stopped: never the attempting person's.
GATEWAY_FAULTS = frozenset({Kind.INTEGRITY_FAILURE})


def severity(kind: Kind) -> str:
    return "warning" if kind in WARNINGS else "violation"
