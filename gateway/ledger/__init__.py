"""The tamper-evident access log, its signed checkpoints, and signed evidence documents.

The exported form is specified in `audit/FORMAT.md`; the auditor verifies it without this code.
"""
