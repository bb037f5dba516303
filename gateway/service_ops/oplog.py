"""Operational logs: what the service itself does (started, listening, stopping, a sweep that
failed), as JSON lines on stderr, where systemd's journal or any collector picks them up.

They are kept apart from the access log on purpose: the access log (gateway/ledger) is evidence,
hash-chained in the database, one entry per thing a person did; these lines are for the people
who run the machine, may be dropped or rotated, and never carry personal data or a secret.
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

LOGGER = "gateway"
LEVELS = ("debug", "info", "warning", "error")
# Attributes every LogRecord has: anything else on a record came from `extra=` and is a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # The wall clock, not gateway.clock: a rehearsal's fake time must not date what the
        # machine did, and these lines are no evidence.
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(level: str = "info", stream: TextIO | None = None) -> logging.Logger:
    """The `gateway` logger writing JSON lines at `level` and above; idempotent."""
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        if getattr(handler, "_gateway_oplog", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines())
    handler._gateway_oplog = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    return logger


def get(name: str = "") -> logging.Logger:
    return logging.getLogger(f"{LOGGER}.{name}" if name else LOGGER)
